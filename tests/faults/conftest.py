"""Fixtures of the fault-injection suite: one torch thread, tiny synthetic MNIST folders."""

from __future__ import annotations

import pytest
import torch
from fault_chain import write_data


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def mnist(tmp_path_factory):
    """64 training and 32 test synthetic digits, shared read-only by the cases that do not change data."""
    return write_data(tmp_path_factory.mktemp("mnist"))


@pytest.fixture
def own_mnist(tmp_path):
    """A private copy of the tiny data set for cases that rewrite it."""
    return write_data(tmp_path / "mnist")
