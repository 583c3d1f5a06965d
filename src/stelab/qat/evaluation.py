"""Evaluation of a model during and after training: mean cross-entropy and accuracy (paper A,
arXiv 2405.05171, Table 5's loss and accuracy columns), on tensors held in memory or through a
DataLoader, in eval mode under ``torch.inference_mode``.
"""

from __future__ import annotations

import torch
from torch import nn

from .device import to_device
from .settings import RunSettings


#: examples per forward pass of :func:`evaluate` (inference needs no activations kept for a backward)
EVAL_BATCH = 1000


@torch.inference_mode()
def evaluate_loader(model: nn.Module, loader, run: RunSettings, device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` over a DataLoader of (images, labels), eval mode, inference mode."""
    was = model.training
    model.eval()
    loss, correct, n = 0.0, 0, 0
    for x, y in loader:
        y = y.to(device, non_blocking=True)
        out = model(to_device(x, run, device)).float()
        loss += float(nn.functional.cross_entropy(out, y, reduction="sum"))
        correct += int((out.argmax(1) == y).sum())
        n += len(y)
    model.train(was)
    return loss / max(n, 1), correct / max(n, 1)


@torch.inference_mode()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on (x, y) in eval mode, ``batch_size`` examples at a time
    under ``torch.inference_mode`` (no autograd bookkeeping)."""
    was = model.training
    model.eval()
    loss, correct = 0.0, 0
    for i in range(0, len(y), batch_size):
        out = model(x[i : i + batch_size])
        loss += float(nn.functional.cross_entropy(out, y[i : i + batch_size], reduction="sum"))
        correct += int((out.argmax(1) == y[i : i + batch_size]).sum())
    model.train(was)
    return loss / max(len(y), 1), correct / max(len(y), 1)
