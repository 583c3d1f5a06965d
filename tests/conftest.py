"""Shared fixtures: a clean copy of the repository, and one run of the smoke DAG per session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from stelab.config import merge_overlay

from helpers import REPO, copy_repo, snakemake


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


@pytest.fixture
def smoke_cfg():
    """config.yaml with the smoke overlay merged in, before validation (as Snakemake hands it over)."""
    cfg = {}
    for name in ("config.yaml", "smoke.yaml"):
        with open(REPO / "config" / name) as fh:
            cfg = merge_overlay(cfg, yaml.safe_load(fh))
    return cfg
