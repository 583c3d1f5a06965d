"""Gradient estimators Q̂: the backward pass of quantization-aware training.

The forward pass is always the quantizer Q (:mod:`stelab.quantizers`); an estimator only
replaces Q's zero-almost-everywhere derivative by Q̂'(x) (paper A §2, App. B, Fig. 1).
Every estimator gives Q̂'(x) as a tensor function of the latent weight and the layer's
quantizer, and Q̂(x) where a closed form exists (for plots).

Registry (paper A spec §2; ``x`` is the latent weight, Δ and the levels come from the quantizer):

=============  ================================================================================
``ste``        Q̂' = 1 (Bengio et al. 2013).
``pwl``        clipped STE: Q̂' = 1 on [lo, hi] (default the representable range), 0 outside.
``htge``       tanh family (Pei et al. 2023): on the cell between two levels with threshold τ,
               Q̂' = (t/2)·sech²(t(x − τ)/Δ)/tanh(t/2); t = kΔ with k = k0/m (k0 = 5.5 for
               2 bits in the paper's experiments) or k given directly. Outside [w_min, w_max]
               Q̂' = 0 (authors' code, ``outside: zero``) or the cells continue periodically
               (``outside: periodic``).
``dsq``        the same function in DSQ's parametrisation (Gong et al. 2019):
               tanh(t/2) = 1 − α_dsq.
``mad``        Q̂' = 1 for |x| ≤ s, s/|x| outside (Sakr et al. 2022); s defaults to the range bound.
``ede``        binary error-decay estimator (Qin et al. 2020): Q̂' = k·t·(1 − tanh²(t·x/m)),
               t = T_min·10^{(e/E)·log10(T_max/T_min)}, k = max(1/t, 1), scheduled per epoch e of E.
``approx_sign``  Bi-Real net (Liu et al. 2018): Q̂' = 2 − 2|x|/m on |x| ≤ m, 0 outside.
``sigmoid_sum``  quantization networks (Yang et al. 2019): Q̂ = w_min + Σ_i Δ·σ(T(x − τ_i)/Δ),
               Q̂' = Σ_i T·σ_i(1 − σ_i) with a dimensionless temperature T.
=============  ================================================================================

The binary estimators are written in units of the quantizer's range half-width m (the
paper's formulas are the case m = 1), so that they scale with the layer like the others.

A user-defined estimator is named by a dotted path ``"package.module:function"`` in the
config: the callable receives ``(x, quantizer, **params)`` and returns Q̂'(x)
(``kind: grad``, default) or Q̂(x) (``kind: value``, differentiated by autograd). It then
works everywhere (training, M-transform, constants, plots) with no other code change.
"""

from __future__ import annotations

import abc
import importlib
import math
from dataclasses import dataclass, field, replace

import torch

from .quantizers import UniformQuantizer


@dataclass(frozen=True)
class Estimator(abc.ABC):
    """Base class: Q̂' (``grad``), optionally Q̂ (``value``), and metadata used by the M-transform.

    Subclasses implement :meth:`grad` and, where it exists, :meth:`value`.
    """

    name: str = field(default="", init=False)
    #: Q̂' is the same on every inner bin (paper A §5.1, "cyclical").
    cyclical: bool = field(default=True, init=False)

    @abc.abstractmethod
    def grad(self, x: torch.Tensor, q: UniformQuantizer) -> torch.Tensor:
        """Q̂'(x) for a latent-weight tensor x in a layer quantized by q."""

    def value(self, x: torch.Tensor, q: UniformQuantizer) -> torch.Tensor | None:
        """Q̂(x), or ``None`` when the estimator has no closed-form antiderivative."""
        return None

    def backward(self, grad_out: torch.Tensor, x: torch.Tensor, q: UniformQuantizer) -> torch.Tensor:
        """The chain rule through Q̂: grad_out · Q̂'(x) (paper A eq. 2–3)."""
        return grad_out * self.grad(x, q).to(grad_out.dtype)

    def support(self, q: UniformQuantizer) -> tuple[float, float]:
        """Interval outside which Q̂' = 0 (±inf when Q̂' > 0 everywhere)."""
        return -math.inf, math.inf

    def kinks(self, q: UniformQuantizer) -> tuple[float, ...]:
        """Points where Q̂' is not smooth (quadrature splits its panels there)."""
        return tuple(q.levels)

    def at_epoch(self, epoch: int, epochs: int) -> "Estimator":
        """The estimator used during ``epoch`` (0-based) of ``epochs``; only EDE is scheduled."""
        return self

    def params(self) -> dict:
        """Plain-data parameters (for tables, JSON and checkpoints)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("name", "cyclical")}

    def describe(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params().items() if v is not None)
        return f"{self.name}({p})" if p else self.name


def _cell_phase(x, q: UniformQuantizer):
    """s ∈ [−½, ½): position of x in its level-to-level cell relative to the cell's threshold, in units of Δ."""
    u = (x - q.offset) / q.delta
    return u - torch.floor(u) - 0.5, torch.floor(u)


def _inside(x, q: UniformQuantizer):
    w_min, w_max = q.representable_range
    return (x >= w_min) & (x <= w_max)


@dataclass(frozen=True)
class STE(Estimator):
    name: str = field(default="ste", init=False)

    def grad(self, x, q):
        return torch.ones_like(x)

    def backward(self, grad_out, x, q):
        """Q̂' = 1: the upstream gradient passes straight through."""
        return grad_out

    def value(self, x, q):
        return x.clone()

    def kinks(self, q):
        return ()


@dataclass(frozen=True)
class PWL(Estimator):
    """Clipped STE on [lo, hi]; ``None`` bounds mean the representable range."""

    lo: float | None = None
    hi: float | None = None
    name: str = field(default="pwl", init=False)

    def bounds(self, q):
        w_min, w_max = q.representable_range
        return (w_min if self.lo is None else self.lo), (w_max if self.hi is None else self.hi)

    def grad(self, x, q):
        lo, hi = self.bounds(q)
        return ((x >= lo) & (x <= hi)).to(x.dtype)

    def value(self, x, q):
        lo, hi = self.bounds(q)
        return x.clamp(lo, hi)

    def support(self, q):
        return self.bounds(q)

    def kinks(self, q):
        return self.bounds(q)


@dataclass(frozen=True)
class TanhFamily(Estimator):
    """htge / dsq: a tanh step of per-cell sharpness t centred on every threshold.

    Exactly one of ``k0`` (k = k0/m), ``k`` or ``t`` sets the sharpness t = kΔ.
    α has the closed form t² / (tanh(t/2)·(t + sinh t)) (spec §3).
    """

    k0: float | None = None
    k: float | None = None
    t: float | None = None
    outside: str = "zero"
    name: str = field(default="htge", init=False)

    def __post_init__(self):
        given = [v for v in (self.k0, self.k, self.t) if v is not None]
        if len(given) != 1:
            raise ValueError(f"{self.name}: give exactly one of k0, k, t (got {self.params()})")
        if given[0] <= 0:
            raise ValueError(f"{self.name}: sharpness must be positive, got {given[0]}")
        if self.outside not in ("zero", "periodic"):
            raise ValueError(f"{self.name}: outside must be 'zero' or 'periodic', got {self.outside!r}")

    def sharpness(self, q: UniformQuantizer) -> float:
        """Dimensionless per-cell sharpness t = kΔ."""
        if self.t is not None:
            return float(self.t)
        k = self.k if self.k is not None else self.k0 / q.m
        return float(k * q.delta)

    def alpha_closed_form(self, q: UniformQuantizer) -> float:
        """α = t² / (tanh(t/2)(t + sinh t)) (spec §3, eq. 4 integrated in closed form)."""
        t = self.sharpness(q)
        return t * t / (math.tanh(t / 2) * (t + math.sinh(t)))

    def grad(self, x, q):
        """(t/2)·sech²(t·s)/tanh(t/2) with s the phase in the cell, as 1 − tanh² in few fused passes."""
        t = self.sharpness(q)
        u = torch.sub(x, q.offset).mul_(1.0 / q.delta)
        lo, hi = q.index_range
        outside = torch.clamp(u, lo, hi).ne(u) if self.outside == "zero" else None
        phase = u.sub_(torch.floor(u)).sub_(0.5).mul_(t)
        g = torch.tanh(phase).square().neg_().add_(1.0).mul_((t / 2) / math.tanh(t / 2))
        return g.masked_fill_(outside, 0.0) if outside is not None else g

    def value(self, x, q):
        t = self.sharpness(q)
        s, cell = _cell_phase(x, q)
        y = q.offset + q.delta * (cell + 0.5 + 0.5 * torch.tanh(t * s) / math.tanh(t / 2))
        if self.outside == "zero":
            y = torch.where(_inside(x, q), y, q(x))
        return y

    def support(self, q):
        return q.representable_range if self.outside == "zero" else (-math.inf, math.inf)


@dataclass(frozen=True)
class DSQ(TanhFamily):
    """DSQ's parametrisation of the tanh family: tanh(t/2) = 1 − α_dsq (paper A App. H)."""

    alpha_dsq: float | None = None
    name: str = field(default="dsq", init=False)

    def __post_init__(self):
        if self.alpha_dsq is not None:
            if not 0 < self.alpha_dsq < 1:
                raise ValueError(f"dsq: alpha_dsq must lie in (0, 1), got {self.alpha_dsq}")
            object.__setattr__(self, "t", 2 * math.atanh(1 - self.alpha_dsq))
        super().__post_init__()


@dataclass(frozen=True)
class MAD(Estimator):
    """Q̂' = 1 on |x| ≤ s, s/|x| beyond; Q̂ = x inside, sign(x)·s·(1 + log(|x|/s)) beyond."""

    s: float | None = None
    name: str = field(default="mad", init=False)

    def bound(self, q):
        return float(max(abs(v) for v in q.representable_range)) if self.s is None else float(self.s)

    def grad(self, x, q):
        s = self.bound(q)
        return torch.where(x.abs() <= s, torch.ones_like(x), s / x.abs().clamp_min(s))

    def value(self, x, q):
        s = self.bound(q)
        outer = torch.sign(x) * s * (1 + torch.log(x.abs().clamp_min(s) / s))
        return torch.where(x.abs() <= s, x, outer)

    def kinks(self, q):
        s = self.bound(q)
        return (-s, s)


@dataclass(frozen=True)
class EDE(Estimator):
    """Error-decay estimator (binary). ``t``/``k`` fixed by :meth:`at_epoch`; default epoch 0."""

    t_min: float = 0.1
    t_max: float = 10.0
    t: float | None = None
    k: float | None = None
    name: str = field(default="ede", init=False)
    cyclical: bool = field(default=False, init=False)

    def schedule(self, epoch: int, epochs: int) -> tuple[float, float]:
        """t = T_min·10^{(e/E)·log10(T_max/T_min)}, k = max(1/t, 1) (Qin et al. 2020)."""
        frac = epoch / max(epochs, 1)
        t = self.t_min * 10 ** (frac * math.log10(self.t_max / self.t_min))
        return t, max(1.0 / t, 1.0)

    def at_epoch(self, epoch, epochs):
        t, k = self.schedule(epoch, epochs)
        return replace(self, t=t, k=k)

    def _tk(self):
        return (self.t, self.k) if self.t is not None else self.schedule(0, 1)

    def grad(self, x, q):
        t, k = self._tk()
        return k * t * (1 - torch.tanh(t * x / q.m) ** 2)

    def value(self, x, q):
        t, k = self._tk()
        return q.m * k * torch.tanh(t * x / q.m)

    def kinks(self, q):
        return ()


@dataclass(frozen=True)
class ApproxSign(Estimator):
    """Bi-Real net: Q̂' = 2 − 2|x|/m on [−m, m], 0 outside; Q̂ = m·(2u − sign(u)u²), u = x/m."""

    name: str = field(default="approx_sign", init=False)
    cyclical: bool = field(default=False, init=False)

    def grad(self, x, q):
        u = x / q.m
        return torch.where(u.abs() <= 1, 2 - 2 * u.abs(), torch.zeros_like(u))

    def value(self, x, q):
        u = (x / q.m).clamp(-1, 1)
        return q.m * (2 * u - torch.sign(u) * u * u)

    def support(self, q):
        return -q.m, q.m

    def kinks(self, q):
        return (-q.m, 0.0, q.m)


@dataclass(frozen=True)
class SigmoidSum(Estimator):
    """Sum of sigmoids, one per threshold, each rising by Δ: Q̂' = Σ_i T·σ_i(1 − σ_i)."""

    temperature: float = 5.0
    name: str = field(default="sigmoid_sum", init=False)

    def _sig(self, x, q):
        th = torch.as_tensor(q.thresholds, dtype=x.dtype, device=x.device)
        return torch.sigmoid(self.temperature * (x.unsqueeze(-1) - th) / q.delta)

    def grad(self, x, q):
        s = self._sig(x, q)
        return (self.temperature * s * (1 - s)).sum(-1)

    def value(self, x, q):
        return q.representable_range[0] + q.delta * self._sig(x, q).sum(-1)

    def kinks(self, q):
        return ()


@dataclass(frozen=True)
class UserEstimator(Estimator):
    """An estimator given by a user callable ``fn(x, quantizer, **params)``.

    ``kind="grad"``: fn returns Q̂'(x). ``kind="value"``: fn returns Q̂(x) and Q̂' comes from autograd.
    """

    path: str = ""
    kind: str = "grad"
    options: tuple = ()
    name: str = field(default="user", init=False)
    cyclical: bool = True

    def __post_init__(self):
        if self.kind not in ("grad", "value"):
            raise ValueError(f"estimator {self.path}: kind must be 'grad' or 'value', got {self.kind!r}")
        object.__setattr__(self, "name", self.path)
        self.fn  # resolve now so a bad path fails at config time

    @property
    def fn(self):
        return load_callable(self.path)

    def grad(self, x, q):
        kwargs = dict(self.options)
        if self.kind == "grad":
            return torch.as_tensor(self.fn(x, q, **kwargs), dtype=x.dtype, device=x.device)
        with torch.enable_grad():
            xr = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.fn(xr, q, **kwargs).sum(), xr)
        return g

    def value(self, x, q):
        return self.fn(x, q, **dict(self.options)) if self.kind == "value" else None

    def params(self):
        return {"kind": self.kind, **dict(self.options)}


REGISTRY: dict[str, type[Estimator]] = {
    "ste": STE,
    "pwl": PWL,
    "htge": TanhFamily,
    "dsq": DSQ,
    "mad": MAD,
    "ede": EDE,
    "approx_sign": ApproxSign,
    "sigmoid_sum": SigmoidSum,
}


def is_dotted_path(name: str) -> bool:
    return ":" in name or "." in name


def load_callable(path: str):
    """Import ``"pkg.mod:attr"`` (or ``"pkg.mod.attr"``) and return the attribute."""
    module_name, _, attr = path.rpartition(":") if ":" in path else path.rpartition(".")
    if not module_name or not attr:
        raise ValueError(f"estimator {path!r}: expected a dotted path 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"estimator {path!r}: cannot import module {module_name!r} ({exc})") from exc
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ValueError(f"estimator {path!r}: module {module_name!r} has no attribute {attr!r}") from None


def get_estimator(spec) -> Estimator:
    """Build an estimator from a name or a dict ``{"name": ..., **params}`` (config form).

    Raises ValueError naming the estimator and the allowed names or parameters.
    """
    if isinstance(spec, Estimator):
        return spec
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"estimator spec must be a name or a mapping with 'name', got {spec!r}")
    params = {k: v for k, v in spec.items() if k != "name"}
    name = spec["name"]
    if name in REGISTRY:
        cls = REGISTRY[name]
        try:
            return cls(**params)
        except TypeError as exc:
            allowed = sorted(f.name for f in cls.__dataclass_fields__.values() if f.init)
            raise ValueError(f"estimator {name!r}: bad parameters {sorted(params)}; allowed: {allowed}") from exc
    if isinstance(name, str) and is_dotted_path(name):
        kind = params.pop("kind", "grad")
        return UserEstimator(path=name, kind=kind, options=tuple(sorted(params.items())))
    raise ValueError(
        f"unknown estimator {name!r}; allowed: {sorted(REGISTRY)} or a dotted path 'package.module:function'"
    )


class _QuantizeSTE(torch.autograd.Function):
    """Forward Q(w); backward grad · Q̂'(w) (paper A eq. 2–3: the chain rule through Q̂)."""

    @staticmethod
    def forward(ctx, w, quantizer, estimator):
        ctx.save_for_backward(w)
        ctx.quantizer, ctx.estimator = quantizer, estimator
        return quantizer(w)

    @staticmethod
    def backward(ctx, grad_out):
        (w,) = ctx.saved_tensors
        return ctx.estimator.backward(grad_out, w, ctx.quantizer), None, None


def quantize(w: torch.Tensor, quantizer: UniformQuantizer, estimator: Estimator) -> torch.Tensor:
    """Quantize ``w`` in the forward pass, back-propagate through Q̂' (keeps dtype and device)."""
    return _QuantizeSTE.apply(w, quantizer, estimator)
