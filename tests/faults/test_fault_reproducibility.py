"""Reproducibility by hash: identical runs write byte-identical files (wall-clock seconds live in
timings.tsv), and where resume checkpoints are written does not change the result."""

import subprocess

import pandas as pd
import torch
from fault_chain import Chain, qat_json, sha256
from helpers import BIN, REPO, workflow_env


def test_identical_chains_give_identical_bytes(tmp_path, mnist):
    a, b = Chain(tmp_path / "a", mnist), Chain(tmp_path / "b", mnist)
    assert a.run() == 0 and b.run() == 0
    for name in ("pre", "init", "final", "snapshots", "history"):
        assert sha256(getattr(a, name)) == sha256(getattr(b, name)), name
    for path in (a.pre, a.init, a.final, a.snapshots):
        torch.load(path, weights_only=True)
    history = pd.read_csv(a.history, sep="\t")
    assert "seconds" not in history.columns and list(history["epoch"]) == [1, 2]
    timings = pd.read_csv(a.timings, sep="\t")
    assert list(timings.columns) == ["epoch", "step", "seconds"] and list(timings["step"]) == [8]  # the branch's epochs
    assert (timings["seconds"] > 0).all()


def test_ede_result_does_not_depend_on_checkpoint_every(tmp_path, mnist):
    """EDE's t and k change every epoch; a resume checkpoint written mid-epoch used to put the base
    estimator back for the rest of that epoch."""
    qat = qat_json(estimator={"name": "ede"}, quantize={"bits": 1, "layout": "range", "params": ["conv*.weight"]},
                   epochs=3)
    every3, never = Chain(tmp_path / "every3", mnist, qat), Chain(tmp_path / "never", mnist, qat)
    assert every3.pretrain("--checkpoint-every", "3") == 0 and every3.fork() == 0
    assert every3.branch("--checkpoint-every", "3") == 0
    assert never.pretrain("--checkpoint-every", "0") == 0 and never.fork() == 0
    assert never.branch("--checkpoint-every", "0") == 0
    assert sha256(every3.final) == sha256(never.final) and sha256(every3.history) == sha256(never.history)


def test_workflow_asks_gpu_jobs_for_cuda_and_writes_timings(tmp_path):
    """The one Snakemake case (a dry run): qat.gpu > 0 makes both training rules pass --device cuda."""
    overlay = tmp_path / "gpu.yaml"
    overlay.write_text("qat:\n  gpu: 1\n  on_divergence: keep\n")
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path), "-n", "-p",
                           "--configfile", str(REPO / "config" / "config.yaml"), str(REPO / "config" / "smoke.yaml"),
                           str(overlay)], env=workflow_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    commands = [ln for ln in proc.stdout.splitlines() if " -m stelab pretrain " in ln or " -m stelab train-branch " in ln]
    assert commands and all("--device cuda --on-divergence keep" in c for c in commands)
    branches = [c for c in commands if " train-branch " in c]
    assert branches and all("/timings.tsv" in c for c in branches)
