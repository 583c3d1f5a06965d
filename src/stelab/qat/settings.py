"""What a QAT training job computes: the lists of the QAT track, the run settings and the schedule.

Paper A (arXiv 2405.05171), §6. Torch-free, so the Snakefile and the config checks import it
while parsing; every other module of the track (and ``workflow/rules/qat.smk``) takes its lists from
here (the optimizer names from :mod:`stelab.optimizers`): :data:`VARIANTS`, :data:`PAIRS`, :data:`RUN_KEYS`,
:data:`AMP_MODES`, :data:`MODELS` / :data:`RESNETS`, :data:`STE_LR_SCOPES`, :data:`LR_TWEAK`.

A *run* (:class:`RunSettings`, stored in every checkpoint as a plain dict) fixes everything a
training job needs: model, quantization, the estimator of every quantized parameter, optimiser,
base learning rate η and a per-parameter learning-rate scale, schedule, data sizes, seed; the
fork (:mod:`stelab.qat.fork`) derives each branch's run from the Q̂-net's with
:func:`dataclasses.replace`.

Schedule (paper A §6.1): linear warm-up over the first 2 % of all S steps, then cosine decay to
0; with S_w = ⌈0.02·S⌉, η_p(s) = η·scale_p·(s+1)/S_w for s < S_w, else
η·scale_p·½(1 + cos(π(s − S_w)/(S − S_w))). Optimisers: ``sgd``, ``momentum`` (SGD, μ = 0.9) and
``adam`` (β = (0.9, 0.95)), each with an optional L2 weight decay λ added to the gradient
(``qat.optimizers.<opt>.weight_decay``, default 0; the authors' Keras code uses ``l2(1e-4)``,
a loss term 1e-4·Σw², i.e. λ = 2e-4).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass, field

from ..optimizers import OPTIMIZERS

#: branches forked from the Q̂-net (paper A §6.1; :mod:`stelab.qat.fork`)
VARIANTS = ("qhat", "ste", "lrtweak", "unadjusted")
#: pair name → (reference variant, other variant) compared by Ē (paper A §6.2, Tables 3–4), in report order
PAIRS = {"baseline": ("qhat", "ste"), "lrtweak": ("qhat", "lrtweak"), "unadjusted": ("qhat", "unadjusted")}
#: readable names of the pairs (tables, pages)
PAIR_NAMES = {"baseline": "baseline", "lrtweak": "lr-tweak", "unadjusted": "unadjusted"}
#: default learning-rate multiplier of the lr-tweak branch (paper A Table 3: "1% learning rate increase")
LR_TWEAK = 1.01
#: which learning rates the STE fork scales by α: the quantized weights' only, or every parameter's
STE_LR_SCOPES = ("quantized", "all")
#: forward-pass precision: float32 throughout, or bf16 autocast (weights, Q(w) and optimiser stay float32)
AMP_MODES = ("none", "bf16")
#: models trained on an ImageFolder dataset through DataLoaders
RESNETS = ("resnet18", "resnet50")
#: the MNIST convnet of paper A §6.1, trained on tensors held in memory
MNIST_MODEL = "mnist_convnet"
#: every model name (``qat.model.name``)
MODELS = (MNIST_MODEL, *RESNETS)
#: qat config keys that determine what a training job computes (the others only affect compare/report)
RUN_KEYS = ("model", "quantize", "estimator", "optimizers", "epochs", "batch_size", "warmup_frac", "track_every",
            "pretrain_fraction", "train_subset", "val_subset", "eval_train_subset", "eval_train_all_at_end", "lr_tweak", "ste_lr_scope",
            "extra_bits", "image_size", "amp", "channels_last", "deterministic", "cudnn_benchmark")
#: quantization of a run that names none: 2-bit range layout of every conv kernel (paper A §6.1)
DEFAULT_QUANTIZE = {"bits": 2, "layout": "range", "params": ["conv*.weight"]}


@dataclass(frozen=True)
class RunSettings:
    """One training run. Frozen: derive another with :func:`dataclasses.replace`; the nested
    dicts (model, quantize, estimator specs, lr_scale) are read, never changed in place.

    ``estimator``: the Q̂-net's estimator spec (``{"name": …, **params}``), ``n_train`` the
    training-set size (it fixes the steps per epoch). ``lr``: the base η, already multiplied by
    ``sweep_factor`` (the learning-rate sweep). The last six fields are set by the fork:
    ``variant``, ``fork_step`` (the schedule position of the fork), ``lr_factor`` (× every
    learning rate: the lr-tweak), ``lr_scale`` (plain parameter name → × its learning rate: α of
    the STE fork), ``estimators`` (plain name → estimator spec of the branch) and
    ``qhat_estimators`` (the Q̂-net's, kept as a record).
    """

    estimator: dict
    n_train: int
    model: dict = field(default_factory=lambda: {"name": MNIST_MODEL, "third_pool": False})
    quantize: dict = field(default_factory=lambda: copy.deepcopy(DEFAULT_QUANTIZE))
    optimizer: str = "momentum"
    lr: float = 1e-3
    momentum: float = 0.9
    betas: list = field(default_factory=lambda: [0.9, 0.95])
    eps: float = 1e-8
    weight_decay: float = 0.0
    epochs: int = 1
    batch_size: int = 64
    warmup_frac: float = 0.02
    seed: int = 0
    track_every: int = 50
    sweep_factor: float = 1.0
    pretrain_fraction: float = 0.0
    train_subset: int | None = None
    val_subset: int | None = None
    eval_train_subset: int | None = None
    eval_train_all_at_end: bool = True
    image_size: int = 224
    amp: str = "none"
    channels_last: bool = True
    deterministic: bool = True
    cudnn_benchmark: bool = False
    variant: str = "qhat"
    fork_step: int = 0
    lr_factor: float = 1.0
    lr_scale: dict = field(default_factory=dict)
    estimators: dict | None = None
    qhat_estimators: dict | None = None

    def __post_init__(self) -> None:
        for key, value, allowed in (("optimizer", self.optimizer, OPTIMIZERS), ("amp", self.amp, AMP_MODES),
                                    ("variant", self.variant, VARIANTS)):
            if value not in allowed:
                raise ValueError(f"qat.{key}: {value!r} is not one of {allowed}")
        if not self.lr > 0:
            raise ValueError(f"qat.lr must be positive, got {self.lr}")
        if not 0.0 <= float(self.pretrain_fraction) < 1.0:
            raise ValueError(f"qat.pretrain_fraction must lie in [0, 1), got {self.pretrain_fraction}")

    def to_dict(self) -> dict:
        """Plain-dict form stored in checkpoints and snapshot files (a deep copy)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> RunSettings:
        """The run of a checkpoint's ``run`` dict; unknown or missing keys raise ValueError naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"run settings: unknown keys {unknown}; allowed: {sorted(names)}")
        missing = sorted(f.name for f in dataclasses.fields(cls) if f.name not in values
                         and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        if missing:
            raise ValueError(f"run settings: missing keys {missing}")
        return cls(**copy.deepcopy(values))

    @property
    def uses_imagefolder(self) -> bool:
        """Whether the model trains on an ImageFolder dataset (a ResNet) rather than MNIST tensors."""
        return self.model.get("name") in RESNETS

    @property
    def steps_per_epoch(self) -> int:
        """⌈n/B⌉ for tensors; ⌊n/B⌋ for an ImageFolder (its loader drops the last incomplete batch)."""
        if self.uses_imagefolder:
            if self.n_train < self.batch_size:
                raise ValueError(f"qat.batch_size {self.batch_size} exceeds the {self.n_train} training images "
                                 "of data.imagefolder (the last incomplete batch is dropped)")
            return self.n_train // self.batch_size
        return math.ceil(self.n_train / self.batch_size)

    @property
    def total_steps(self) -> int:
        """S = epochs × steps per epoch."""
        return self.epochs * self.steps_per_epoch

    @property
    def pretrain_steps(self) -> int:
        """Q̂-net steps before the fork: round(f · S), f = ``pretrain_fraction`` (paper A §6.1)."""
        return round(float(self.pretrain_fraction) * self.total_steps)


_RUN_FIELDS = tuple(f.name for f in dataclasses.fields(RunSettings))
#: qat config keys copied into a run as they are (``estimator`` depends on the bit width)
_COPIED_KEYS = tuple(k for k in RUN_KEYS if k in _RUN_FIELDS and k != "estimator")


def make_run(estimator, n_train: int, **fields) -> RunSettings:
    """A run with ``estimator`` (a name or spec, checked and normalised) for every quantized
    parameter, ``n_train`` training examples and ``fields`` in place of the defaults."""
    from ..estimators import estimator_spec, get_estimator

    unknown = sorted(set(fields) - set(_RUN_FIELDS))
    if unknown:
        raise ValueError(f"unknown run keys {unknown}; allowed: {sorted(_RUN_FIELDS)}")
    return RunSettings(estimator=estimator_spec(get_estimator(estimator)), n_train=int(n_train),
                       **copy.deepcopy(fields))


def run_from_config(qat: dict, optimizer: str, seed: int, n_train: int, sweep_factor: float = 1.0,
                    bits: int | None = None) -> RunSettings:
    """The Q̂-net run of the ``qat:`` config section for one optimiser, seed and learning-rate factor.

    η = qat.optimizers[optimizer].lr × ``sweep_factor`` (the learning-rate sweep multiplies η).
    ``bits`` other than qat.quantize.bits selects the entry of qat.extra_bits with that bit width
    (its own estimator, e.g. HTGE k0 = 2 for 1 bit and 18 for 4 bits in the authors' code).
    """
    opts = qat.get("optimizers", {})
    if optimizer not in opts:
        raise ValueError(f"qat.optimizers: no entry for optimizer {optimizer!r} (have {sorted(opts)})")
    o = opts[optimizer]
    fields = {k: qat[k] for k in _COPIED_KEYS if k in qat}
    fields.update(optimizer=optimizer, seed=int(seed), lr=float(o["lr"]) * float(sweep_factor),
                  sweep_factor=float(sweep_factor))
    fields.update({k: o[k] for k in ("momentum", "betas", "eps", "weight_decay") if k in o})
    estimator = qat.get("estimator", "ste")
    quant = fields.get("quantize", DEFAULT_QUANTIZE)
    if bits is not None and int(bits) != int(quant["bits"]):
        extra = {int(e["bits"]): e for e in qat.get("extra_bits", [])}
        if int(bits) not in extra:
            raise ValueError(f"qat.extra_bits: no entry for {bits} bits (have {sorted(extra)}; "
                             f"qat.quantize.bits is {quant['bits']})")
        fields["quantize"] = {**quant, "bits": int(bits)}
        estimator = extra[int(bits)]["estimator"]
    return make_run(estimator, n_train, **fields)


def lr_schedule(step: int, total: int, warmup_frac: float = 0.02) -> float:
    """Multiplier of η at ``step`` (0-based): linear warm-up over ⌈warmup_frac·total⌉ steps, then cosine to 0."""
    warm = max(1, math.ceil(warmup_frac * total))
    if step < warm:
        return (step + 1) / warm
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
