"""Resume checkpoints: a job resumes only its own checkpoint (same run, start checkpoint, data,
threads, device, versions) and then continues bit-identically; anything else restarts training."""

import os
import signal
import subprocess
import sys

import pytest
import torch
from fault_chain import Chain, Killed, kill_after_checkpoints, qat_json, same_weights, sha256, write_data
from helpers import REPO, workflow_env

from stelab.data.idx import read_idx, write_idx
from stelab.data.manifest import write_manifest


def _interrupted_branch(chain: Chain, monkeypatch, n: int = 2) -> int:
    """Run the branch job until it dies after its ``n``-th resume checkpoint; returns the saved step."""
    with monkeypatch.context() as m:
        kill_after_checkpoints(m, n)
        with pytest.raises(Killed):
            chain.branch()
    assert chain.branch_ckpt.exists() and not chain.final.exists()
    return int(torch.load(chain.branch_ckpt, weights_only=True)["step"])


def test_branch_resumes_its_own_checkpoint_bit_identically(tmp_path, mnist, monkeypatch, capsys):
    whole = Chain(tmp_path / "whole", mnist)
    assert whole.run() == 0
    cut = Chain(tmp_path / "cut", mnist)
    assert cut.pretrain() == 0 and cut.fork() == 0
    step = _interrupted_branch(cut, monkeypatch)
    assert cut.branch() == 0
    assert f"resuming from {cut.branch_ckpt} at step {step}" in capsys.readouterr().out
    assert not cut.branch_ckpt.exists()
    for a, b in zip(whole.outputs, cut.outputs):
        if b != cut.timings:
            assert sha256(a) == sha256(b), b.name


def test_changed_data_discards_the_branch_checkpoint(tmp_path, own_mnist, monkeypatch, capsys):
    """The issue's case: data rebuilt with another seed, pretrain and fork rerun, the old branch
    checkpoint (same run settings) must not be resumed."""
    chain = Chain(tmp_path / "chain", own_mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    _interrupted_branch(chain, monkeypatch)
    write_data(own_mnist, seed=1)
    assert chain.pretrain() == 0 and chain.fork() == 0
    capsys.readouterr()
    assert chain.branch() == 0
    out = capsys.readouterr().out
    assert f"discarding resume checkpoint {chain.branch_ckpt}" in out
    assert "start: sha256" in out and "data: sha256" in out
    fresh = Chain(tmp_path / "fresh", own_mnist)
    assert fresh.run() == 0
    assert same_weights(chain.final, fresh.final)


def test_changed_labels_discard_the_pretrain_checkpoint(tmp_path, own_mnist, monkeypatch, capsys):
    chain = Chain(tmp_path / "chain", own_mnist)
    with monkeypatch.context() as m:
        kill_after_checkpoints(m, 1)
        with pytest.raises(Killed):
            chain.pretrain()
    labels = own_mnist / "train-labels-idx1-ubyte"
    write_idx(labels, ((read_idx(labels) + 1) % 10).astype("uint8"))
    write_manifest(own_mnist)  # replaced on purpose (otherwise the job stops at the manifest)
    assert chain.pretrain() == 0
    out = capsys.readouterr().out
    assert "discarding resume checkpoint" in out and "data: sha256" in out and "run." not in out
    assert torch.load(chain.pre, weights_only=True)["step"] == 4


def test_changed_train_subset_discards_the_pretrain_checkpoint(tmp_path, mnist, monkeypatch, capsys):
    chain = Chain(tmp_path / "chain", mnist, qat_json(train_subset=48))
    with monkeypatch.context() as m:
        kill_after_checkpoints(m, 1)
        with pytest.raises(Killed):
            chain.pretrain()
    chain.qat = qat_json(train_subset=64)
    assert chain.pretrain() == 0
    out = capsys.readouterr().out
    assert "run.n_train: 48 → 64" in out and "run.train_subset: 48 → 64" in out


def test_changed_thread_count_discards_the_checkpoint(tmp_path, mnist, monkeypatch, capsys):
    chain = Chain(tmp_path / "chain", mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    _interrupted_branch(chain, monkeypatch)
    assert chain.branch("--threads", "2") == 0
    assert "threads: 1 → 2" in capsys.readouterr().out
    saved = torch.load(chain.final, weights_only=True)
    assert saved["identity"]["threads"] == 2 and saved["identity"]["device"].startswith("cpu (")


@pytest.mark.parametrize("key, value", [("stelab", "0.0.1"), ("device", "cuda (NVIDIA H200)"),
                                        ("device", "cpu (AVX2-of-another-machine)"), ("source", "sha256:0")])
def test_other_version_or_device_discards_the_checkpoint(tmp_path, mnist, monkeypatch, capsys, key, value):
    chain = Chain(tmp_path / "chain", mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    _interrupted_branch(chain, monkeypatch)
    saved = torch.load(chain.branch_ckpt, weights_only=True)
    saved["identity"][key] = value
    torch.save(saved, chain.branch_ckpt)
    assert chain.branch() == 0
    assert f"{key}: '{value}' → " in capsys.readouterr().out


def test_checkpoint_without_identity_is_discarded(tmp_path, mnist, monkeypatch, capsys):
    chain = Chain(tmp_path / "chain", mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    _interrupted_branch(chain, monkeypatch)
    saved = torch.load(chain.branch_ckpt, weights_only=True)
    del saved["identity"]
    torch.save(saved, chain.branch_ckpt)
    assert chain.branch() == 0
    assert "it records no job identity" in capsys.readouterr().out


def test_sigkill_mid_run_then_resume_is_bit_identical(tmp_path, mnist):
    """A real SIGKILL (no clean-up runs) right after the second resume checkpoint, then a rerun."""
    whole = Chain(tmp_path / "whole", mnist)
    assert whole.run() == 0
    cut = Chain(tmp_path / "cut", mnist)
    assert cut.pretrain() == 0 and cut.fork() == 0
    script = ("import os, signal, sys\n"
              "from stelab.qat import loop\n"
              "from stelab.cli import main\n"
              "original, saves = loop.save_checkpoint, []\n"
              "def save_then_die(path, ckpt):\n"
              "    original(path, ckpt)\n"
              "    saves.append(path)\n"
              "    if len(saves) == 2:\n"
              "        os.kill(os.getpid(), signal.SIGKILL)\n"
              "loop.save_checkpoint = save_then_die\n"
              "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run([sys.executable, "-c", script, *cut.train_branch_args()], env=workflow_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert cut.branch_ckpt.exists() and not any(p.exists() for p in cut.outputs)
    assert not [p for p in os.listdir(cut.final.parent) if ".tmp" in p]
    assert cut.branch() == 0
    assert same_weights(whole.final, cut.final) and sha256(whole.history) == sha256(cut.history)
