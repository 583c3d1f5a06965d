"""Checkpoints of a run (paper A, arXiv 2405.05171, §6.1): model and optimiser built from the
run, saved, loaded and hashed.

A *checkpoint* is ``{"run", "model", "optimizer", "step", "history", "snapshots"}`` (plus
``fit``, the running training loss of the current epoch, once trained); pretraining, forking
and branch training each map one checkpoint to the next. In memory ``run`` is a
:class:`~stelab.qat.settings.RunSettings`; on disk it is its plain dict
(:func:`save_checkpoint`, :func:`load_checkpoint`), so a file unpickles without this package's
classes. Optimisers (paper A §6.1): SGD (μ = 0), SGD + momentum and Adam, one parameter group
per parameter so that each carries its own learning-rate scale (α of the STE fork, Theorem 5.1).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import torch
from torch import nn

from ..io import save_torch
from .models import build_quantized_model, plain_named_parameters, quantized_layers, set_estimators
from .settings import RunSettings


def build(run: RunSettings, device=None) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model (quantized, estimators per parameter) and optimiser with one parameter group per parameter.

    Each group carries its plain ``name`` and ``lr_scale`` (``run.lr_scale[name]``, default 1).
    """
    model = build_quantized_model(run.model, run.quantize, run.estimator, run.seed)
    if run.estimators is not None:
        set_estimators(model, run.estimators)
    model.to(device or "cpu")
    if run.channels_last:
        model.to(memory_format=torch.channels_last)
    groups = [{"params": [p], "name": n, "lr_scale": float(run.lr_scale.get(n, 1.0))}
              for n, p in plain_named_parameters(model)]
    if run.optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=run.lr, betas=tuple(run.betas), eps=run.eps)
    else:
        opt = torch.optim.SGD(groups, lr=run.lr, momentum=run.momentum if run.optimizer == "momentum" else 0.0)
    return model, opt


def init_checkpoint(run: RunSettings) -> dict:
    """Step-0 checkpoint of a run: He-uniform init from the run's seed, empty optimiser state."""
    model, opt = build(run)
    return {"run": run, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "step": 0, "history": [], "snapshots": {"steps": [], "weights": {}}}


def load_into(ckpt: dict, device=None) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model and optimiser of a checkpoint, state restored, on ``device``."""
    model, opt = build(ckpt["run"], device)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(copy.deepcopy(ckpt["optimizer"]))  # CPU state would alias the checkpoint's tensors
    return model, opt


def save_checkpoint(path, ckpt: dict) -> None:
    """Write ``ckpt`` atomically with its run as a plain dict."""
    save_torch(path, {**ckpt, "run": ckpt["run"].to_dict()})


def load_checkpoint(path) -> dict:
    """A checkpoint (or snapshot file) written by :func:`save_checkpoint`, its run read back; CPU tensors."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    try:
        return {**ckpt, "run": RunSettings.from_dict(ckpt["run"])}
    except ValueError as exc:
        raise ValueError(f"checkpoint {path}: {exc}") from None


def weight_hash(state_dict: dict) -> str:
    """SHA-256 over every tensor of a state dict (name order): equal iff bit-identical weights."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        h.update(k.encode())
        h.update(state_dict[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def export_checkpoint(model, opt, ckpt, step, base_ests, fit) -> dict:
    """The checkpoint at ``step``: CPU copies of the weights and optimiser state, each quantized
    parameter's estimator reset to ``base_ests`` (the loop swaps in per-epoch schedules), ``fit``
    the running training loss."""
    for n, (_, pq) in quantized_layers(model).items():
        pq.estimator = base_ests[n]
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    opt_state = _to_cpu(opt.state_dict())
    return {"run": ckpt["run"], "model": state, "optimizer": opt_state, "step": step, "fit": fit,
            "history": list(ckpt["history"]),
            "snapshots": {"steps": list(ckpt["snapshots"]["steps"]),
                          "weights": {k: list(v) for k, v in ckpt["snapshots"]["weights"].items()}}}


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu").clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj
