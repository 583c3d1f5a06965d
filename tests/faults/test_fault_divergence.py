"""Diverging runs: stopped by default with the run and the key to change named, or kept marked
``diverged`` (qat.on_divergence: keep) and left out of the tables' means."""

import re

import pandas as pd
import pytest
import torch
from fault_chain import Chain, assert_nothing_complete, qat_json

from stelab.cli import main
from stelab.qat.divergence import DivergenceError, DivergenceMonitor
from stelab.qat.settings import make_run

DIVERGING = [
    ("momentum lr 1e6", {"optimizers": {"momentum": {"lr": 1.0e6}}}, r"parameter conv1\.bias reached \|w\| = "),
    ("momentum lr 1e30", {"optimizers": {"momentum": {"lr": 1.0e30}}}, "non-finite training loss nan"),
    ("adam lr 10", {"optimizers": {"adam": {"lr": 10.0}}, "batch_size": 8},
     r"mean training loss \S+ of epoch 1 is above 23\.03"),
    ("adam lr 100, no pretraining", {"optimizers": {"adam": {"lr": 100.0}}, "pretrain_fraction": 0.0, "epochs": 3,
                                     "batch_size": 4}, "for 10 consecutive steps"),
]


@pytest.mark.parametrize("case, changes, reason", DIVERGING, ids=[c[0] for c in DIVERGING])
def test_diverging_run_stops_naming_run_and_key(tmp_path, mnist, capsys, case, changes, reason):
    optimizer = next(iter(changes["optimizers"]))
    chain = Chain(tmp_path, mnist, qat_json(**changes))
    rc = main(["pretrain", "--data", str(mnist), "--qat", chain.qat, "--optimizer", optimizer, "--seed", "0",
               "--out", str(chain.pre)])
    if rc == 0:  # no pretraining steps: the branch diverges
        assert chain.fork() == 0
        rc = chain.branch()
    err = capsys.readouterr().err
    assert rc == 2
    assert f"run {optimizer}/qhat seed 0, 2 bit, lr factor 1: diverged at step" in err
    assert f"qat.optimizers.{optimizer}.lr" in err and "qat.on_divergence: keep" in err
    assert re.search(reason, err), err
    diverged_in_pretraining = not chain.init.exists()
    assert_nothing_complete(*chain.outputs, *([chain.pre] if diverged_in_pretraining else []))


def _tamper_init(chain: Chain, **values) -> None:
    """Set single latent weights of the branch's start checkpoint (``name=value``, element 0)."""
    ckpt = torch.load(chain.init, weights_only=True)
    for name, value in values.items():
        weight = ckpt["model"][name]
        weight[(0,) * weight.dim()] = value
    torch.save(ckpt, chain.init)


def test_nan_weight_in_start_checkpoint_stops_at_the_first_step(tmp_path, mnist, capsys):
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    _tamper_init(chain, **{"fc.weight": float("nan")})
    assert chain.branch() == 2
    assert "diverged at step 4 (epoch 1): non-finite training loss nan at step 4" in capsys.readouterr().err
    assert_nothing_complete(*chain.outputs)


def test_huge_latent_weight_with_finite_loss_stops_at_epoch_end(tmp_path, mnist, capsys):
    """The issue's symptom: quantized forward passes hide latent weights of 1e37; the loss stays finite."""
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    _tamper_init(chain, **{"conv2.parametrizations.weight.original": 1.0e37})
    assert chain.branch() == 2
    err = capsys.readouterr().err
    assert "diverged at step 8 (epoch 1): parameter conv2.weight reached |w| = 1e+37 > 1e+06" in err
    assert_nothing_complete(*chain.outputs)


def _monitor(history_acc):
    ckpt = {"run": make_run("ste", 64), "diverged": None, "loss_streak": 0}
    monitor = DivergenceMonitor(ckpt, "stop", log=lambda line: None)
    history = [{"train_acc": a, "fit_loss": 2.0} for a in history_acc]
    monitor.check_epoch(step=10 * len(history), epoch=len(history) - 1, history=history)


def test_accuracy_collapse_to_chance_is_divergence():
    with pytest.raises(DivergenceError, match=r"training accuracy fell to 10\.0 % \(chance 10\.0 %\) after "
                                               r"reaching 55\.0 %"):
        _monitor([0.3, 0.55, 0.1])
    _monitor([0.1, 0.11, 0.12])  # a run that never learned has not diverged
    _monitor([0.3, 0.55, 0.5])


def test_kept_divergence_is_marked_and_left_out_of_the_tables(tmp_path, mnist, capsys):
    qat = qat_json(optimizers={"momentum": {"lr": 0.05}})
    finals, seeds = [], {}
    for seed in (0, 1):
        for variant in ("qhat", "ste"):
            chain = Chain(tmp_path / f"seed{seed}", mnist, qat, seed=seed, variant=variant)
            if variant == "qhat":
                assert chain.pretrain() == 0
            assert chain.fork() == 0
            if (seed, variant) == (1, "qhat"):
                _tamper_init(chain, **{"conv2.parametrizations.weight.original": 1.0e37})
            assert chain.branch("--on-divergence", "keep") == 0
            finals.append(str(chain.final))
            seeds[(seed, variant)] = chain
    assert "diverged at step 8 (epoch 1): parameter conv2.weight" in capsys.readouterr().err
    kept = torch.load(seeds[(1, "qhat")].final, weights_only=True)
    assert kept["diverged"] == {"step": 8, "epoch": 1, "reason": "parameter conv2.weight reached |w| = 1e+37 > 1e+06"}
    assert kept["step"] == 8 and [r["epoch"] for r in kept["history"]] == [1, 2]  # trained to the end
    assert torch.load(seeds[(0, "qhat")].final, weights_only=True)["diverged"] is None
    out = tmp_path / "out"
    assert main(["compare", "--runs", *finals, "--runs-out", str(out / "runs.tsv"), "--pairs-out",
                 str(out / "pairs.tsv"), "--tracking-out", str(out / "tracking.tsv"), "--scatter-out",
                 str(out / "scatter.npz"), "--scatter-points", "10"]) == 0
    runs = pd.read_csv(out / "runs.tsv", sep="\t")
    assert runs.set_index(["seed", "variant"])["diverged"].to_dict() == {
        (0, "qhat"): False, (0, "ste"): False, (1, "qhat"): True, (1, "ste"): False}
    pairs = pd.read_csv(out / "pairs.tsv", sep="\t").set_index("seed")
    assert not pairs.loc[0, "diverged"] and pairs.loc[1, "diverged"]
    assert main(["qat-tables", "--pairs", str(out / "pairs.tsv"), "--runs", str(out / "runs.tsv"),
                 "--out-dir", str(out / "tables")]) == 0
    t4 = pd.read_csv(out / "tables" / "qat_table4.csv").iloc[0]
    assert t4["n_seeds"] == 1 and t4["n_diverged"] == 1
    assert t4["E_bar_mean"] == pytest.approx(pairs.loc[0, "E_bar"])  # seed 1's Ē (about 1e36 %) left out
    assert t4["experiment"] == "baseline (S) [1 diverged, left out]"
    t5 = pd.read_csv(out / "tables" / "qat_table5.csv").set_index("net")
    assert t5.loc["qhat", "n_seeds"] == 1 and t5.loc["ste", "n_seeds"] == 2 and t5.loc["diff", "n_diverged"] == 1


def test_start_checkpoint_marked_diverged_stops_under_stop(tmp_path, mnist, capsys):
    chain = Chain(tmp_path, mnist, qat_json(optimizers={"momentum": {"lr": 1.0e6}}))
    assert chain.pretrain("--on-divergence", "keep") == 0
    assert torch.load(chain.pre, weights_only=True)["diverged"]["step"] == 4
    assert chain.fork() == 0
    assert chain.branch() == 2
    assert "its start checkpoint is marked diverged: diverged at step 4" in capsys.readouterr().err
    assert_nothing_complete(*chain.outputs)
