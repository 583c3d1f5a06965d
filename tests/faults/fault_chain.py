"""Helpers of the fault-injection suite: a tiny QAT chain run in-process, interruptions, output checks.

The chain trains the MNIST convnet (third pool) on 64 synthetic digits, batch 16: 4 steps per
epoch, 2 epochs, so every job takes a fraction of a second on one core.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import torch

from stelab.cli import main
from stelab.data.synthetic import write_synthetic_idx

N_TRAIN, N_TEST = 64, 32
#: the qat section of the tiny chain (8 steps; pretraining stops after half of them)
QAT = {"estimator": {"name": "htge", "k0": 5.5}, "optimizers": {"momentum": {"lr": 0.05}}, "epochs": 2,
       "batch_size": 16, "model": {"third_pool": True}, "track_every": 2, "pretrain_fraction": 0.5}


def qat_json(**changes) -> str:
    """The tiny chain's --qat JSON with top-level keys replaced (None removes a key)."""
    qat = copy.deepcopy(QAT)
    for key, value in changes.items():
        if value is None:
            qat.pop(key, None)
        else:
            qat[key] = value
    return json.dumps(qat)


def write_data(folder: Path, seed: int = 0, n_train: int = N_TRAIN, n_test: int = N_TEST) -> Path:
    write_synthetic_idx(folder, n_train, n_test, seed=seed)
    return folder


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Killed(Exception):
    """Stands for SIGKILL in-process: raised right after a resume checkpoint was written."""


def kill_after_checkpoints(monkeypatch, n: int) -> None:
    """Make the training loop die right after its ``n``-th resume-checkpoint save."""
    from stelab.qat import loop

    saves = []
    original = loop.save_checkpoint

    def save_then_die(path, ckpt):
        original(path, ckpt)
        saves.append(path)
        if len(saves) == n:
            raise Killed(f"killed after checkpoint {n} at step {ckpt['step']}")

    monkeypatch.setattr(loop, "save_checkpoint", save_then_die)


class Chain:
    """pretrain → fork → train-branch of one seed in ``root``, through ``stelab.cli.main``."""

    def __init__(self, root: Path, data: Path, qat: str | None = None, seed: int = 0, variant: str = "qhat"):
        self.root, self.data, self.qat, self.seed, self.variant = Path(root), Path(data), qat or qat_json(), seed, variant
        self.root.mkdir(parents=True, exist_ok=True)
        self.pre = self.root / "pretrain.pt"
        branch = self.root / variant
        self.init = branch / "init.pt"
        self.final = branch / "final.pt"
        self.history = branch / "history.tsv"
        self.timings = branch / "timings.tsv"
        self.snapshots = branch / "snapshots.pt"

    @property
    def pre_ckpt(self) -> Path:
        return Path(f"{self.pre}.ckpt")

    @property
    def branch_ckpt(self) -> Path:
        return Path(f"{self.final}.ckpt")

    @property
    def outputs(self) -> list[Path]:
        """What train-branch writes."""
        return [self.final, self.history, self.timings, self.snapshots]

    def pretrain(self, *extra: str) -> int:
        return main(["pretrain", "--data", str(self.data), "--qat", self.qat, "--optimizer", "momentum",
                     "--seed", str(self.seed), "--out", str(self.pre), "--checkpoint-every", "1", *extra])

    def fork(self, *extra: str) -> int:
        return main(["fork", "--pretrained", str(self.pre), "--variant", self.variant, "--qat", self.qat,
                     "--out", str(self.init), *extra])

    def branch(self, *extra: str) -> int:
        return main(["train-branch", "--init", str(self.init), "--data", str(self.data), "--out", str(self.final),
                     "--history", str(self.history), "--timings", str(self.timings), "--snapshots",
                     str(self.snapshots), "--checkpoint-every", "1", *extra])

    def run(self, *extra: str) -> int:
        """The whole chain; the first non-zero return code, else 0."""
        for rc in (self.pretrain(*extra), self.fork(), self.branch(*extra)):
            if rc:
                return rc
        return 0

    def train_branch_args(self) -> list[str]:
        """train-branch's arguments (for a subprocess)."""
        return ["train-branch", "--init", str(self.init), "--data", str(self.data), "--out", str(self.final),
                "--history", str(self.history), "--timings", str(self.timings), "--snapshots", str(self.snapshots),
                "--checkpoint-every", "1"]


def final_weights(path) -> dict:
    return torch.load(path, weights_only=True)["model"]


def same_weights(a, b) -> bool:
    wa, wb = final_weights(a), final_weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def assert_nothing_complete(*paths: Path) -> None:
    """None of ``paths`` exists, and their folders hold no temporary leftovers either."""
    present = [str(p) for p in paths if Path(p).exists()]
    assert not present, f"outputs left behind: {present}"
    for folder in {Path(p).parent for p in paths}:
        if folder.is_dir():
            leftovers = [p.name for p in folder.iterdir() if ".tmp" in p.name]
            assert not leftovers, f"temporary files left in {folder}: {leftovers}"
