"""The QAT command chain in-process: pretrain → fork → train-branch → compare → qat-tables."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from stelab.cli import main
from stelab.data.synthetic import write_synthetic_idx


@pytest.fixture(autouse=True)
def _restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_chain_produces_tables(tmp_path):
    data = tmp_path / "mnist"
    write_synthetic_idx(data, 256, 64, seed=0)
    qat = json.dumps({"estimator": {"name": "htge", "k0": 5.5}, "epochs": 1, "batch_size": 32, "track_every": 4,
                      "optimizers": {"momentum": {"lr": 0.01, "momentum": 0.9}}})
    finals, snaps = [], []
    for seed in (0, 1):
        for factor, variants in (("1", ("qhat", "ste", "lrtweak", "unadjusted")), ("2", ("qhat", "ste"))):
            pre = tmp_path / f"s{seed}f{factor}" / "pre.pt"
            assert main(["pretrain", "--data", str(data), "--qat", qat, "--optimizer", "momentum", "--seed", str(seed),
                         "--lr-factor", factor, "--out", str(pre)]) == 0
            for v in variants:
                d = pre.parent / v
                assert main(["fork", "--pretrained", str(pre), "--variant", v, "--out", str(d / "init.pt")]) == 0
                assert main(["train-branch", "--init", str(d / "init.pt"), "--data", str(data), "--out",
                             str(d / "final.pt"), "--history", str(d / "history.tsv"), "--snapshots",
                             str(d / "snap.pt")]) == 0
                finals.append(str(d / "final.pt"))
                if factor == "1":
                    snaps.append(str(d / "snap.pt"))
    out = tmp_path / "out"
    assert main(["compare", "--runs", *finals, "--snapshots", *snaps, "--runs-out", str(out / "runs.tsv"),
                 "--pairs-out", str(out / "pairs.tsv"), "--tracking-out", str(out / "tracking.tsv"),
                 "--scatter-out", str(out / "scatter.npz"), "--scatter-points", "100"]) == 0
    pairs = pd.read_csv(out / "pairs.tsv", sep="\t")
    assert len(pairs) == 2 * 3 + 2 * 1
    assert (pairs["E_bar"] > 0).all() and (pairs["agreement"] <= 100).all()
    track = pd.read_csv(out / "tracking.tsv", sep="\t")
    assert sorted(set(track["step"])) == [0, 4, 8]  # 8 steps per epoch, snapshots every 4
    assert (track[track["step"] == 0]["E_bar"].abs() < 1e-4).all()  # E⁽⁰⁾ = 0 for every pair (paper §6.2)
    scatter = np.load(out / "scatter.npz")
    assert scatter["momentum_adjusted_x"].shape == (100,)
    assert np.allclose(scatter["thresholds"], [-2 / 3, 0, 2 / 3])
    assert main(["qat-tables", "--pairs", str(out / "pairs.tsv"), "--runs", str(out / "runs.tsv"),
                 "--out-dir", str(out / "tables")]) == 0
    t4 = pd.read_csv(out / "tables" / "qat_table4.csv")
    assert list(t4["experiment"]) == ["baseline (S)", "lr-tweak (S)", "unadjusted (S)"]
    assert (t4["n_seeds"] == 2).all()
    assert "0.515" in (out / "tables" / "qat_table4.tex").read_text()
    fit = json.loads((out / "tables" / "qat_lr_sweep_fit.json").read_text())
    assert fit["momentum"]["n_factors"] == 2
    for name in ("qat_table3", "qat_table5", "qat_lr_sweep"):
        assert (out / "tables" / f"{name}.csv").exists() and (out / "tables" / f"{name}.tex").exists()


def test_bad_settings_name_the_key(tmp_path, capsys):
    write_synthetic_idx(tmp_path / "mnist", 64, 16, seed=0)
    qat = json.dumps({"estimator": "htge_typo", "epochs": 1, "batch_size": 32, "optimizers": {"adam": {"lr": 0.001}}})
    assert main(["pretrain", "--data", str(tmp_path / "mnist"), "--qat", qat, "--optimizer", "adam", "--seed", "0",
                 "--out", str(tmp_path / "p.pt")]) == 2
    assert "htge_typo" in capsys.readouterr().err
    qat = qat.replace("htge_typo", "ste")
    assert main(["pretrain", "--data", str(tmp_path / "mnist"), "--qat", qat, "--optimizer", "momentum", "--seed", "0",
                 "--out", str(tmp_path / "p.pt")]) == 2
    assert "qat.optimizers" in capsys.readouterr().err
    assert not (tmp_path / "p.pt").exists()


def test_stale_checkpoint_of_another_run_is_ignored(tmp_path, capsys):
    data = tmp_path / "mnist"
    write_synthetic_idx(data, 64, 16, seed=0)

    def qat(lr):
        return json.dumps({"estimator": "ste", "epochs": 1, "batch_size": 32, "optimizers": {"sgd": {"lr": lr}}})

    from stelab.qat.checkpoints import init_checkpoint, save_checkpoint, weight_hash
    from stelab.qat.settings import make_run

    stale = init_checkpoint(make_run("ste", 64, optimizer="sgd", lr=0.5, batch_size=32))
    save_checkpoint(tmp_path / "p.pt.ckpt", {**stale, "step": 1})
    assert main(["pretrain", "--data", str(data), "--qat", qat(0.01), "--optimizer", "sgd", "--seed", "0",
                 "--out", str(tmp_path / "p.pt")]) == 0
    assert "discarding resume checkpoint" in capsys.readouterr().out
    out = torch.load(tmp_path / "p.pt", weights_only=True)
    assert out["run"]["lr"] == 0.01 and out["step"] == 0
    assert weight_hash(out["model"]) == weight_hash(stale["model"])  # same seed, fresh start
