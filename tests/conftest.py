"""Shared fixtures: a clean copy of the repository, and one run of the smoke DAG per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def workflow_env() -> dict:
    """Environment for subprocesses: this interpreter's bin first (stelab, snakemake), tests on PYTHONPATH."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests"), env.get("PYTHONPATH", "")]))
    env["MPLBACKEND"] = "Agg"
    return env


def copy_repo(dest: Path) -> Path:
    """Copy the tracked and untracked-but-not-ignored files (what a fresh clone would hold, plus work in progress)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=workdir, env=workflow_env(), capture_output=True, text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def repo_copy(tmp_path_factory) -> Path:
    return copy_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    """The whole DAG on config/smoke.yaml, once per session, in a fresh copy of the repository."""
    work = copy_repo(tmp_path_factory.mktemp("smoke"))
    proc = snakemake(work, "--cores", "2", "--configfile", "config/smoke.yaml")
    if proc.returncode != 0:
        pytest.fail(f"smoke workflow failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return work


@pytest.fixture
def one_thread():
    """Small models: torch threads only contend on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tiny_data(n_train=256, n_test=64, seed=1):
    """Random 28×28 uint8 images and labels, prepared as the training loop expects them."""
    from stelab.training import prepare_data

    g = torch.Generator().manual_seed(seed)
    raw = {split: (torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
                   torch.randint(0, 10, (n,), generator=g))
           for split, n in (("train", n_train), ("test", n_test))}
    return prepare_data(raw)
