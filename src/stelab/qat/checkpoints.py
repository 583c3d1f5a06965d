"""Checkpoints of a run (paper A, arXiv 2405.05171, §6.1): model and optimiser built from the
run, saved, loaded and hashed.

A *checkpoint* is ``{"run", "model", "optimizer", "step", "history", "snapshots"}`` (plus, once
trained, ``fit``, the running training loss of the current epoch, ``timings``, the seconds per
epoch, ``identity``, what the job's result depends on (:mod:`stelab.qat.identity`), and
``diverged`` / ``loss_streak`` (:mod:`stelab.qat.divergence`)); pretraining, forking and branch
training each map one checkpoint to the next. In memory ``run`` is a
:class:`~stelab.qat.settings.RunSettings`; on disk it is its plain dict
(:func:`save_checkpoint`, :func:`load_checkpoint`), so every file loads with
``torch.load(weights_only=True)``: only containers, numbers, strings and tensors. A file that
does not load, or lacks a key, raises :class:`CheckpointError` naming it. Optimisers (paper A
§6.1): SGD (μ = 0), SGD + momentum and Adam, one parameter group per parameter so that each
carries its own learning-rate scale (α of the STE fork, Theorem 5.1).
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import torch
from torch import nn

from ..estimators import validate_estimator
from ..io import save_torch, torch_bytes
from .models import build_quantized_model, plain_named_parameters, quantized_layers, set_estimators
from .settings import RunSettings

#: keys every training checkpoint holds
CHECKPOINT_KEYS = ("run", "model", "optimizer", "step", "history", "snapshots")
#: keys of a snapshot file (quantized weights every ``track_every`` steps)
SNAPSHOT_KEYS = ("run", "steps", "weights")


class CheckpointError(ValueError):
    """A checkpoint file is unreadable, incomplete or does not fit its run; the message names it."""


def build(run: RunSettings, device=None) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model (quantized, estimators per parameter) and optimiser with one parameter group per parameter.

    Each group carries its plain ``name`` and ``lr_scale`` (``run.lr_scale[name]``, default 1).
    Every quantized parameter's estimator is checked on that parameter's own quantizer (its m,
    :func:`check_estimators`).
    """
    model = build_quantized_model(run.model, run.quantize, run.estimator, run.seed)
    if run.estimators is not None:
        set_estimators(model, run.estimators)
    check_estimators(model, run)
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


def check_estimators(model: nn.Module, run: RunSettings) -> None:
    """:func:`stelab.estimators.validate_estimator` of every quantized parameter's estimator on its
    own quantizer: parameters in absolute units (pwl lo/hi, mad s, htge k) are checked against the
    real range m = sqrt(6/fan_in) of the layer, which the config check (m = 1) cannot see."""
    bits = run.quantize["bits"]
    for name, (_, pq) in quantized_layers(model).items():
        try:
            validate_estimator(pq.estimator, pq.quantizer)
        except (ValueError, ArithmeticError) as exc:
            raise ValueError(f"qat.estimator (or the qat.extra_bits entry for {bits} bits): parameter {name} of "
                             f"the {run.variant} run: {exc}") from None


def init_checkpoint(run: RunSettings) -> dict:
    """Step-0 checkpoint of a run: He-uniform init from the run's seed, empty optimiser state."""
    model, opt = build(run)
    return {"run": run, "model": model.state_dict(), "optimizer": opt.state_dict(),
            "step": 0, "history": [], "timings": [], "snapshots": {"steps": [], "weights": {}}}


def load_into(ckpt: dict, device=None) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Model and optimiser of a checkpoint, state restored, on ``device``."""
    model, opt = build(ckpt["run"], device)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(copy.deepcopy(ckpt["optimizer"]))  # CPU state would alias the checkpoint's tensors
    return model, opt


def verify_loadable(ckpt: dict, path) -> None:
    """Build the model and optimiser of ``ckpt`` and load its state; a run that cannot be built (e.g.
    an estimator unusable on a layer) or a state that does not fit (missing or misshapen tensors)
    raises :class:`CheckpointError` naming ``path``."""
    try:
        load_into(ckpt, "cpu")
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path}: {exc}") from None
    except (RuntimeError, KeyError, TypeError, IndexError) as exc:
        raise CheckpointError(f"checkpoint {path}: its model or optimiser state does not fit its run ({exc})") from None


def save_checkpoint(path, ckpt: dict) -> None:
    """Write ``ckpt`` atomically with its run as a plain dict; the bytes depend only on the content."""
    save_torch(path, _plain(ckpt))


def checkpoint_digest(ckpt: dict) -> str:
    """SHA-256 of the bytes :func:`save_checkpoint` would write for ``ckpt``."""
    return hashlib.sha256(torch_bytes(_plain(ckpt))).hexdigest()


def _plain(ckpt: dict) -> dict:
    return {**ckpt, "run": ckpt["run"].to_dict()}


def load_checkpoint(path, *, keys=CHECKPOINT_KEYS) -> dict:
    """A checkpoint written by :func:`save_checkpoint`, its run read back; CPU tensors.

    Loaded with ``weights_only=True``. Raises FileNotFoundError for a missing file and
    :class:`CheckpointError` naming ``path`` for one that is truncated, not a torch file, or
    lacks one of ``keys``.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError, … for a damaged file
        raise CheckpointError(f"checkpoint {path} is unreadable (truncated, damaged or not a torch file): "
                              f"{type(exc).__name__}: {_load_reason(exc)}") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"checkpoint {path} holds a {type(ckpt).__name__}, not a checkpoint dict")
    missing = [k for k in keys if k not in ckpt]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks the key(s) {missing}")
    try:
        return {**ckpt, "run": RunSettings.from_dict(ckpt["run"])}
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path}: {exc}") from None


def _load_reason(exc: Exception) -> str:
    """The telling line of a torch.load error (the unpickler's own line when there is one)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return next((ln for ln in lines if ln.startswith("WeightsUnpickler error")), lines[0] if lines else "")


def load_snapshots(path) -> dict:
    """A snapshot file (``run``, ``steps``, ``weights``) written by a branch job (:func:`load_checkpoint`)."""
    return load_checkpoint(path, keys=SNAPSHOT_KEYS)


def weight_hash(state_dict: dict) -> str:
    """SHA-256 over every tensor of a state dict (name order): equal iff bit-identical weights."""
    h = hashlib.sha256()
    for k in sorted(state_dict):
        h.update(k.encode())
        h.update(state_dict[k].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def export_checkpoint(model, opt, ckpt, step, fit) -> dict:
    """The checkpoint at ``step``: CPU copies of the weights and optimiser state, ``fit`` the
    running training loss, every other key of ``ckpt`` carried over. The model is left as it is
    (the estimators of the current epoch stay in place: exporting mid-epoch changes nothing)."""
    state = {k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()}
    opt_state = _to_cpu(opt.state_dict())
    return {**ckpt, "model": state, "optimizer": opt_state, "step": step, "fit": fit,
            "history": list(ckpt["history"]), "timings": list(ckpt.get("timings", [])),
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
