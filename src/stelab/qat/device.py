"""Device of a training job and its numerics settings: cuDNN, deterministic kernels, bf16, channels_last.

Paper A (arXiv 2405.05171) §6.2 compares two branches weight by weight (Ē, eq. 5), so the
kernels must not add run-to-run noise of their own; these settings (``qat.deterministic``,
``qat.cudnn_benchmark``, ``qat.amp``, ``qat.channels_last``) decide that on a GPU.
"""

from __future__ import annotations

import os
from contextlib import nullcontext

import torch

from .settings import RunSettings


#: accepted values of the training commands' ``--device``
DEVICES = ("auto", "cpu", "cuda")


def pick_device(requested: str = "auto") -> torch.device:
    """The training device: ``auto`` is ``cuda`` when available, else ``cpu``; ``cuda`` insists.

    A job asked for ``cuda`` (the workflow asks when ``qat.gpu`` > 0) that sees no CUDA device
    fails here, before any training, instead of silently training on the CPU.
    """
    if requested not in DEVICES:
        raise ValueError(f"--device: {requested!r} is not one of {DEVICES}")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is visible to this job (torch.cuda.is_available() is "
                         f"False; CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}). "
                         "It was configured for a GPU by qat.gpu > 0: run it on a GPU node, or set qat.gpu: 0 "
                         "to train on the CPU")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def device_name(device: torch.device) -> str:
    """The device as recorded in a run's identity: ``cuda`` with the GPU's model name, or ``cpu`` with
    the instruction set torch's CPU kernels dispatch to (``cpu (AVX512)``, ``cpu (AVX2)``): kernels of
    another width sum in another order, so the same run on such a machine is another numerics."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{device.type} ({torch.backends.cpu.get_cpu_capability()})"


def configure_backends(run: RunSettings, device: torch.device) -> None:
    """Process-wide GPU numerics settings of a run: cuDNN algorithm choice and deterministic kernels.

    ``run.deterministic`` (qat.deterministic, default true) sets ``cudnn.deterministic`` and
    ``torch.use_deterministic_algorithms(True, warn_only=True)`` (with the cuBLAS workspace
    ``:4096:8`` it requires): the same inputs then give bit-identical outputs run to run on one
    GPU and software stack, so two branches differ only by what the fork changed and Ē measures
    the estimators, not scheduling noise. ``warn_only``: the few CUDA kernels without a
    deterministic version (e.g. the backward of adaptive average pooling in ResNet's head, a
    float-only layer) warn instead of failing. ``run.cudnn_benchmark`` (default false) lets
    cuDNN time candidate convolution algorithms and keep the fastest; the choice can differ
    between processes, so paired branches may then use different kernels and drift apart by
    float rounding (≈1 ulp per step, amplified by training). Trade-off: deterministic kernels
    and no autotuning cost throughput on a GPU (typically 5–20 % for ResNet-50); turn them off for
    speed when only accuracy, not a pairwise Ē, matters. On the CPU (already deterministic for a
    fixed thread count) nothing is changed.
    """
    if device.type != "cuda":
        return
    deterministic = bool(run.deterministic)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = bool(run.cudnn_benchmark)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


def autocast(run: RunSettings, device: torch.device):
    """bf16 autocast for forward passes when ``run.amp == "bf16"`` (weights, Q(w), optimiser stay float32)."""
    if run.amp == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def to_device(x: torch.Tensor, run: RunSettings, device) -> torch.Tensor:
    """A batch on ``device`` (non-blocking from pinned memory), channels_last when the run asks for it."""
    x = x.to(device, non_blocking=True)
    return x.contiguous(memory_format=torch.channels_last) if run.channels_last and x.dim() == 4 else x
