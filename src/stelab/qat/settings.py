"""Run settings and the schedule of one QAT training job (paper A §6.1).

A *run* is a plain dict (stored in every checkpoint) that fixes everything a training job
needs: model, quantization, the estimator of every quantized parameter, optimiser, base
learning rate η and a per-parameter learning-rate scale, schedule, data sizes, seed.

Schedule (paper A §6.1): linear warm-up over the first 2 % of all steps, then cosine decay
to 0; η(s) = η·scale_p·(s+1)/S_w for s < S_w, else η·scale_p·½(1 + cos(π(s − S_w)/(S − S_w))).
Optimisers: ``sgd``, ``momentum`` (SGD, μ = 0.9) and ``adam`` (β = (0.9, 0.95)).
"""

from __future__ import annotations

import copy
import math

#: optimisers of paper A §6.1, in report order (the paper's main optimiser first)
OPTIMIZERS = ("momentum", "sgd", "adam")
#: branches forked from the Q̂-net (:mod:`stelab.qat.fork`)
VARIANTS = ("qhat", "ste", "lrtweak", "unadjusted")
#: pair name → (reference variant, other variant) compared by Ē (paper A §6.2, Tables 3–4)
PAIRS = {"baseline": ("qhat", "ste"), "lrtweak": ("qhat", "lrtweak"), "unadjusted": ("qhat", "unadjusted")}
#: the lr-tweak branch's learning-rate multiplier (paper A Table 3, "1% learning rate increase")
LR_TWEAK = 1.01
#: ResNets trained on an ImageFolder dataset
RESNETS = ("resnet18", "resnet50")
#: qat config keys that determine what a training job computes (others only affect compare/report)
RUN_KEYS = ("model", "quantize", "estimator", "optimizers", "epochs", "batch_size", "warmup_frac", "track_every",
            "pretrain_fraction", "train_subset", "val_subset", "eval_train_subset", "lr_tweak", "ste_lr_scope",
            "extra_bits", "image_size", "amp", "channels_last", "deterministic", "cudnn_benchmark")
RUN_DEFAULTS = {
    "model": {"name": "mnist_convnet", "third_pool": False},
    "quantize": {"bits": 2, "layout": "range", "params": ["conv*.weight"]},
    "optimizer": "momentum",
    "lr": 1e-3,
    "momentum": 0.9,
    "betas": [0.9, 0.95],
    "eps": 1e-8,
    "epochs": 1,
    "batch_size": 64,
    "warmup_frac": 0.02,
    "seed": 0,
    "track_every": 50,
    "variant": "qhat",
    "lr_factor": 1.0,
    "sweep_factor": 1.0,
    "pretrain_fraction": 0.0,
    "train_subset": None,
    "val_subset": None,
    "eval_train_subset": None,
    "image_size": 224,
    "amp": "none",
    "channels_last": False,
    "deterministic": True,
    "cudnn_benchmark": False,
}
#: models trained on an ImageFolder dataset (DataLoaders) instead of the in-memory MNIST tensors
IMAGEFOLDER_MODELS = RESNETS
AMP_MODES = ("none", "bf16")

#: qat config keys copied into a run as they are
_RUN_KEYS_FROM_CONFIG = ("model", "quantize", "epochs", "batch_size", "warmup_frac", "track_every",
                         "pretrain_fraction", "train_subset", "val_subset", "eval_train_subset",
                         "image_size", "amp", "channels_last", "deterministic", "cudnn_benchmark")


def run_from_config(qat: dict, optimizer: str, seed: int, n_train: int, sweep_factor: float = 1.0,
                    bits: int | None = None) -> dict:
    """The Q̂-net run of the ``qat:`` config section for one optimiser, seed and learning-rate factor.

    η = qat.optimizers[optimizer].lr × ``sweep_factor`` (the learning-rate sweep multiplies η).
    ``bits`` other than qat.quantize.bits selects the entry of qat.extra_bits with that bit width
    (its own estimator, e.g. HTGE k0 = 2 for 1 bit and 18 for 4 bits in the authors' code).
    """
    opts = qat.get("optimizers", {})
    if optimizer not in opts:
        raise ValueError(f"qat.optimizers: no entry for optimizer {optimizer!r} (have {sorted(opts)})")
    o = opts[optimizer]
    over = {k: copy.deepcopy(qat[k]) for k in _RUN_KEYS_FROM_CONFIG if k in qat}
    over.update(optimizer=optimizer, seed=int(seed), lr=float(o["lr"]) * float(sweep_factor),
                sweep_factor=float(sweep_factor))
    for key in ("momentum", "betas", "eps"):
        if key in o:
            over[key] = o[key]
    estimator = qat.get("estimator", "ste")
    quant = over.get("quantize", copy.deepcopy(RUN_DEFAULTS["quantize"]))
    if bits is not None and int(bits) != int(quant["bits"]):
        extra = {int(e["bits"]): e for e in qat.get("extra_bits", [])}
        if int(bits) not in extra:
            raise ValueError(f"qat.extra_bits: no entry for {bits} bits (have {sorted(extra)}; "
                             f"qat.quantize.bits is {quant['bits']})")
        over["quantize"] = {**quant, "bits": int(bits)}
        estimator = extra[int(bits)]["estimator"]
    return make_run(estimator, n_train, **over)


def pretrain_steps(run: dict) -> int:
    """Number of Q̂-net steps before the fork: round(f · total steps)."""
    f = float(run.get("pretrain_fraction", 0.0))
    if not 0.0 <= f < 1.0:
        raise ValueError(f"qat.pretrain_fraction must lie in [0, 1), got {f}")
    return round(f * total_steps(run))


def make_run(estimator, n_train: int, **overrides) -> dict:
    """A run dict: :data:`RUN_DEFAULTS` updated by ``overrides``, estimator applied to every quantized parameter.

    ``n_train`` (training-set size) fixes the number of steps per epoch.
    """
    run = copy.deepcopy(RUN_DEFAULTS)
    unknown = set(overrides) - set(RUN_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown run keys {sorted(unknown)}; allowed: {sorted(RUN_DEFAULTS)}")
    run.update(copy.deepcopy(overrides))
    if run["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"qat.optimizer: {run['optimizer']!r} is not one of {OPTIMIZERS}")
    if not run["lr"] > 0:
        raise ValueError(f"qat.lr must be positive, got {run['lr']}")
    if run["amp"] not in AMP_MODES:
        raise ValueError(f"qat.amp: {run['amp']!r} is not one of {AMP_MODES}")
    from ..estimators import get_estimator
    from .models import estimator_spec

    run["n_train"] = int(n_train)
    run["estimator"] = estimator_spec(get_estimator(estimator))
    return run


def uses_imagefolder(run: dict) -> bool:
    """Whether the run's model trains on an ImageFolder dataset (the ResNets) rather than MNIST tensors."""
    return run["model"].get("name") in IMAGEFOLDER_MODELS


def steps_per_epoch(run: dict) -> int:
    """⌈n/B⌉ for tensors; ⌊n/B⌋ for an ImageFolder (its loader drops the last incomplete batch)."""
    if uses_imagefolder(run):
        if run["n_train"] < run["batch_size"]:
            raise ValueError(f"qat.batch_size {run['batch_size']} exceeds the {run['n_train']} training images "
                             "of data.imagefolder (the last incomplete batch is dropped)")
        return run["n_train"] // run["batch_size"]
    return math.ceil(run["n_train"] / run["batch_size"])


def total_steps(run: dict) -> int:
    return run["epochs"] * steps_per_epoch(run)


def lr_schedule(step: int, total: int, warmup_frac: float = 0.02) -> float:
    """Multiplier of η at ``step`` (0-based): linear warm-up over ⌈warmup_frac·total⌉ steps, then cosine to 0."""
    warm = max(1, math.ceil(warmup_frac * total))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
