"""Deterministic training: schedule, batch order, bit-identical reruns and resume after SIGKILL."""

import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import tiny_data

from stelab.data.order import epoch_permutation
from stelab.data.synthetic import write_synthetic_idx
from stelab.qat.checkpoints import build, init_checkpoint, weight_hash
from stelab.qat.fork import fork
from stelab.qat.loop import train
from stelab.qat.settings import lr_schedule, make_run

pytestmark = pytest.mark.usefixtures("one_thread")

HTGE = {"name": "htge", "k0": 5.5}


def test_lr_schedule_warmup_then_cosine():
    total = 100  # warm-up: ceil(2 % of 100) = 2 steps
    assert lr_schedule(0, total) == pytest.approx(0.5)
    assert lr_schedule(1, total) == pytest.approx(1.0)
    assert lr_schedule(2, total) == pytest.approx(1.0)
    assert lr_schedule(2 + 49, total) == pytest.approx(0.5)  # half-way through the cosine
    assert lr_schedule(99, total) == pytest.approx(0.5 * (1 + math.cos(math.pi * 97 / 98)))
    assert lr_schedule(999, 1000) < 1e-4


def test_batch_order_depends_only_on_seed_and_epoch():
    torch.manual_seed(0)
    a = epoch_permutation(50, 3, 1)
    torch.manual_seed(1)
    torch.rand(10)
    assert torch.equal(a, epoch_permutation(50, 3, 1))
    assert not torch.equal(a, epoch_permutation(50, 3, 2))
    assert not torch.equal(a, epoch_permutation(50, 4, 1))
    assert torch.equal(torch.sort(a).values, torch.arange(50))


def _run(seed=0, **kw):
    return make_run(HTGE, 256, optimizer="momentum", epochs=2, batch_size=32, seed=seed, lr=1e-2, **kw)


def test_same_seed_gives_bit_identical_weights():
    data = tiny_data()
    a = train(init_checkpoint(_run()), data, device="cpu")
    b = train(init_checkpoint(_run()), data, device="cpu")
    c = train(init_checkpoint(_run(seed=1)), data, device="cpu")
    assert weight_hash(a["model"]) == weight_hash(b["model"])
    assert weight_hash(a["model"]) != weight_hash(c["model"])
    assert [r["epoch"] for r in a["history"]] == [1, 2]
    assert a["history"] == b["history"]  # wall-clock seconds live in timings, apart from the history
    assert "seconds" not in a["history"][0] and [t["epoch"] for t in a["timings"]] == [1, 2]
    assert a["snapshots"]["steps"] == [0, 16]  # track_every (default 50) > 16 steps: start and end only


def test_branches_see_identical_batches():
    data = tiny_data()
    start = init_checkpoint(_run())
    seen = {}
    for variant in ("qhat", "ste", "unadjusted"):
        seen[variant] = []
        train(fork(start, variant), data, device="cpu", batch_hook=lambda s, idx, v=variant: seen[v].append(idx.clone()))
    assert len(seen["qhat"]) == 16
    for variant in ("ste", "unadjusted"):
        assert all(torch.equal(a, b) for a, b in zip(seen["qhat"], seen[variant]))


def test_stopping_and_continuing_equals_one_run():
    data = tiny_data()
    whole = train(init_checkpoint(_run()), data, device="cpu")
    part = train(init_checkpoint(_run()), data, stop_step=5, device="cpu")
    assert part["step"] == 5
    rest = train(part, data, device="cpu")
    assert weight_hash(rest["model"]) == weight_hash(whole["model"])
    assert rest["history"][-1]["fit_loss"] == whole["history"][-1]["fit_loss"]


def test_non_finite_loss_stops_with_a_clear_error():
    data = tiny_data()
    x, y = data["train"]
    data["train"] = (torch.full_like(x, float("nan")), y)
    with pytest.raises(ValueError, match="non-finite training loss nan at step 0"):
        train(init_checkpoint(_run()), data, device="cpu")


def test_adam_and_plain_sgd_train():
    data = tiny_data()
    for opt in ("adam", "sgd"):
        run = make_run(HTGE, 256, optimizer=opt, epochs=1, batch_size=64, lr=1e-3)
        out = train(init_checkpoint(run), data, device="cpu")
        assert out["step"] == 4 and math.isfinite(out["history"][0]["val_loss"])


def _stelab(*args):
    return [sys.executable, "-m", "stelab.cli", *map(str, args)]


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    write_synthetic_idx(tmp_path / "mnist", 1024, 32, seed=0)
    qat = ('{"estimator": {"name": "htge", "k0": 5.5}, "optimizers": {"momentum": {"lr": 0.01}}, '
           '"epochs": 4, "batch_size": 8, "track_every": 25, "eval_train_subset": 32}')
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    subprocess.run(_stelab("pretrain", "--data", tmp_path / "mnist", "--qat", qat, "--optimizer", "momentum",
                           "--seed", 0, "--out", tmp_path / "pre.pt"), check=True, env=env)
    subprocess.run(_stelab("fork", "--pretrained", tmp_path / "pre.pt", "--variant", "ste", "--out",
                           tmp_path / "init.pt"), check=True, env=env)

    def branch(tag, ckpt):
        return _stelab("train-branch", "--init", tmp_path / "init.pt", "--data", tmp_path / "mnist",
                       "--out", tmp_path / f"{tag}.pt", "--history", tmp_path / f"{tag}.tsv",
                       "--snapshots", tmp_path / f"{tag}_snap.pt", "--checkpoint", ckpt, "--checkpoint-every", 40)

    subprocess.run(branch("whole", tmp_path / "whole.ckpt"), check=True, env=env, capture_output=True)
    ckpt = tmp_path / "killed.ckpt"
    proc = subprocess.Popen(branch("killed", ckpt), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    assert ckpt.exists(), "no checkpoint was written before the run ended"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed.pt").exists()
    saved = torch.load(ckpt, weights_only=True)
    assert 0 < saved["step"] < 512
    rerun = subprocess.run(branch("killed", ckpt), check=True, env=env, capture_output=True, text=True)
    assert f"resuming from {ckpt} at step" in rerun.stdout + rerun.stderr
    a = torch.load(tmp_path / "whole.pt", weights_only=True)
    b = torch.load(tmp_path / "killed.pt", weights_only=True)
    assert a["step"] == b["step"] == 512
    assert weight_hash(a["model"]) == weight_hash(b["model"])
    assert not ckpt.exists()
    sa = torch.load(tmp_path / "whole_snap.pt", weights_only=True)
    sb = torch.load(tmp_path / "killed_snap.pt", weights_only=True)
    assert sa["steps"] == sb["steps"]
    assert all(torch.equal(x, y) for x, y in zip(sa["weights"]["conv2.weight"], sb["weights"]["conv2.weight"]))


def test_run_from_config_optimizer_sweep_and_extra_bits():
    from stelab.qat.settings import run_from_config

    qat = {"estimator": HTGE, "epochs": 2, "batch_size": 50, "pretrain_fraction": 0.1,
           "quantize": {"bits": 2, "params": ["conv*.weight"]},
           "optimizers": {"adam": {"lr": 1e-4, "betas": [0.9, 0.95]}},
           "extra_bits": [{"bits": 4, "estimator": {"name": "htge", "k0": 18}}]}
    run = run_from_config(qat, "adam", 3, 1000, sweep_factor=4)
    assert run.lr == pytest.approx(4e-4) and run.betas == [0.9, 0.95] and run.seed == 3
    assert run.pretrain_steps == 4  # round(0.1 · 2 epochs · 20 steps)
    four = run_from_config(qat, "adam", 3, 1000, bits=4)
    assert four.quantize["bits"] == 4 and four.estimator["k0"] == 18
    assert run_from_config(qat, "adam", 3, 1000, bits=2).estimator["k0"] == 5.5
    with pytest.raises(ValueError, match="qat.extra_bits"):
        run_from_config(qat, "adam", 3, 1000, bits=1)
    with pytest.raises(ValueError, match="qat.optimizers"):
        run_from_config(qat, "momentum", 3, 1000)


def test_ede_schedule_is_applied_per_epoch(monkeypatch):
    from stelab.estimators import EDE

    seen = []
    original = EDE.at_epoch

    def spy(self, epoch, epochs):
        seen.append((epoch, epochs))
        return original(self, epoch, epochs)

    monkeypatch.setattr(EDE, "at_epoch", spy)
    run = make_run({"name": "ede"}, 256, optimizer="sgd", epochs=3, batch_size=128, lr=1e-2,
                   quantize={"bits": 1, "layout": "range", "params": ["conv*.weight"]})
    out = train(init_checkpoint(run), tiny_data(), device="cpu")
    assert sorted(set(seen)) == [(0, 3), (1, 3), (2, 3)]  # every quantized layer, each epoch
    assert out["run"].estimator == {"name": "ede", "t_min": 0.1, "t_max": 10.0}


def test_progress_lines_and_epoch_log_go_to_the_stream():
    import io

    log = io.StringIO()
    train(init_checkpoint(_run()), tiny_data(), device="cpu", label="branch", stream=log)
    lines = log.getvalue().splitlines()
    assert lines[0] == "branch: momentum qhat seed 0: steps 0→16 of 16 on cpu"
    epochs = [ln for ln in lines if ln.startswith("branch: epoch ")]
    assert [ln.split(":")[1] for ln in epochs] == [" epoch 1 step 8", " epoch 2 step 16"]
    assert all("train loss" in ln and "val loss" in ln and "acc" in ln for ln in epochs)
    counts = [ln for ln in lines if " steps (" in ln]  # a line every tenth of the 16 steps (log, not a terminal)
    assert len(counts) == 8 and counts[-1].startswith("branch: 16/16 steps (100%)")


@pytest.mark.parametrize("all_at_end, last_n", [(True, 256), (False, 40)])
def test_training_metrics_cover_the_subset_each_epoch_and_everything_at_the_end(all_at_end, last_n):
    data = tiny_data()
    n = 40
    data = {**data, "eval_train": (data["train"][0][:n], data["train"][1][:n])}
    run = _run(eval_train_subset=n, eval_train_all_at_end=all_at_end)
    end = train(init_checkpoint(run), data, device="cpu")
    assert [r["train_eval_n"] for r in end["history"]] == [n, last_n]
    model, _ = build(end["run"])
    model.load_state_dict(end["model"])
    model.eval()
    x, y = data["train"][0][:last_n], data["train"][1][:last_n]
    with torch.no_grad():  # the accuracy by hand: the share of argmax hits over the images named
        acc = (model(x).argmax(1) == y).double().mean().item()
    assert end["history"][-1]["train_acc"] == pytest.approx(acc, abs=1e-12)
