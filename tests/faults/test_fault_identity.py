"""Everything that decides a number is part of a job's identity for Snakemake (params or inputs): the
user code a config names, the stelab package's source, the thread count, the device, the versions;
nothing else, so a finished run
moves. A pair is compared only when its two runs share threads, device and versions."""

import os
import subprocess

import pytest
import torch
from fault_chain import Chain, assert_nothing_complete
from helpers import BIN, copy_repo, workflow_env

from stelab.cli import main
from stelab.io import save_torch

PRETRAIN = "results/qat/b2/momentum/lr1/seed0/pretrain.pt"


@pytest.mark.parametrize("field, value", [("threads", 2), ("device", "cuda (NVIDIA H100)"), ("torch", "2.0.0"),
                                          ("stelab", "0.0.1"), ("source", "sha256:0")])
def test_compare_refuses_a_pair_whose_runs_differ_in_numerics(tmp_path, mnist, capsys, field, value):
    qhat, ste = Chain(tmp_path, mnist), Chain(tmp_path, mnist, variant="ste")
    assert qhat.run() == 0 and ste.fork() == 0 and ste.branch() == 0
    ckpt = torch.load(ste.final, weights_only=True)
    ckpt["identity"][field] = value
    save_torch(ste.final, ckpt)
    outs = {name: tmp_path / f"{name}.{ext}" for name, ext in
            (("runs", "tsv"), ("pairs", "tsv"), ("tracking", "tsv"), ("scatter", "npz"))}
    rc = main(["compare", "--runs", str(qhat.final), str(ste.final), "--runs-out", str(outs["runs"]),
               "--pairs-out", str(outs["pairs"]), "--tracking-out", str(outs["tracking"]),
               "--scatter-out", str(outs["scatter"])])
    assert rc == 2
    err = capsys.readouterr().err
    assert "pair baseline of {'bits': 2, 'optimizer': 'momentum', 'sweep_factor': 1.0, 'seed': 0}" in err
    assert f"the runs differ in {field}: " in err and repr(value) in err and str(ste.final) in err
    assert_nothing_complete(*outs.values())


def _snakemake(root, *args) -> str:
    """Snakemake with ``root``'s copy of the workflow, in ``root/run``, on the smoke config plus ``root/*.yaml``
    overlays named in ``args``, for the pretraining job only (``root/user`` holds the user module)."""
    env = workflow_env()
    env["PYTHONPATH"] = os.pathsep.join([str(root / "user"), env["PYTHONPATH"]])
    overlays = [str(root / a) if a.endswith(".yaml") else a for a in args]
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(root / "stelab" / "Snakefile"), "--cores", "1",
                           PRETRAIN, "--configfile", str(root / "stelab" / "config" / "smoke.yaml"), *overlays],
                          cwd=root / "run", env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_identity_for_snakemake_reruns_what_changed_and_nothing_when_moved(tmp_path):
    """One pretraining job of the smoke config with a user estimator. A copy of the checkout and the
    finished run together (a moved clone) is complete; editing the estimator's module, the thread count
    or the device reruns the job, not the data."""
    root = tmp_path / "a"
    copy_repo(root / "stelab")
    (root / "user").mkdir()
    (root / "run").mkdir()
    module = root / "user" / "identity_est.py"
    module.write_text("import torch\n\n\ndef grad(x, q):\n    return torch.ones_like(x)\n")
    (root / "est.yaml").write_text("qat: {estimator: 'identity_est:grad'}\n")
    _snakemake(root, "est.yaml")
    moved = tmp_path / "b"
    subprocess.run(["cp", "-a", str(root), str(moved)], check=True)
    for folder in (root, moved):
        assert "Nothing to be done" in _snakemake(folder, "est.yaml", "-n")
    module.write_text(module.read_text() + "\n# edited\n")
    out = _snakemake(root, "est.yaml", "-n")
    assert "qat_pretrain" in out and "make_synthetic_mnist" not in out, out[-3000:]
    for change in ("qat: {threads: 2}", "qat: {gpu: 1}"):
        (moved / "change.yaml").write_text(change + "\n")
        out = _snakemake(moved, "est.yaml", "change.yaml", "-n")
        assert "qat_pretrain" in out and "make_synthetic_mnist" not in out, (change, out[-3000:])
    (moved / "change.yaml").write_text("{}\n")
    assert "Nothing to be done" in _snakemake(moved, "est.yaml", "change.yaml", "-n")
    quantizers = moved / "stelab" / "src" / "stelab" / "quantizers.py"
    quantizers.write_text(quantizers.read_text() + "\n# edited\n")  # same version number, other code
    assert "qat_pretrain" in _snakemake(moved, "est.yaml", "change.yaml", "-n")
