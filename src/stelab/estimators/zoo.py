"""The registry's gradient estimators: STE, PWL and the custom estimators of paper A §2 and App. B.

Paper A is arXiv 2405.05171; ``x`` is the latent weight, Δ and the levels come from the layer's
quantizer (eq. 1). The binary estimators (EDE, ApproxSign) are written in units of the
quantizer's range half-width m (the published formulas are the case m = 1), so that they scale
with the layer like the others. Each class declares the allowed interval of every numeric
parameter once, in ``parameter_ranges`` (checked on construction, :mod:`stelab.estimators.base`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import ClassVar

import torch

from .base import FINITE, POSITIVE, UNIT_INTERVAL, Estimator, ParameterRange, show_value
from ..quantizers import UniformQuantizer


def _cell_phase(x, q: UniformQuantizer):
    """s ∈ [−½, ½): position of x in its level-to-level cell relative to the cell's threshold, in units of Δ."""
    u = (x - q.offset) / q.delta
    return u - torch.floor(u) - 0.5, torch.floor(u)


def _inside(x, q: UniformQuantizer):
    w_min, w_max = q.representable_range
    return (x >= w_min) & (x <= w_max)


@dataclass(frozen=True)
class STE(Estimator):
    """Straight-through estimator: Q̂(x) = x, Q̂' = 1 (paper A §2; Bengio et al. 2013)."""

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
    """Clipped STE PWL_{lo,hi}: Q̂' = 1 on [lo, hi], 0 outside (paper A §2); ``None`` bounds mean the
    representable range."""

    lo: float | None = None
    hi: float | None = None
    name: str = field(default="pwl", init=False)
    parameter_ranges: ClassVar[dict[str, ParameterRange]] = {"lo": FINITE, "hi": FINITE}

    def __post_init__(self):
        super().__post_init__()
        if self.lo is not None and self.hi is not None and not self.lo < self.hi:
            raise ValueError(f"pwl: lo must be < hi, got lo={show_value(self.lo)}, hi={show_value(self.hi)}")

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
    """htge (Pei et al. 2023; paper A App. B and H): a tanh step of per-cell sharpness t centred on
    every threshold τ, Q̂' = (t/2)·sech²(t(x − τ)/Δ)/tanh(t/2) on the level-to-level cell.

    Exactly one of ``k0`` (k = k0/m; k0 = 5.5 at 2 bits in paper A §6.1), ``k`` or ``t`` sets the
    sharpness t = kΔ. Outside [w_min, w_max] Q̂' = 0 (the authors' code, ``outside: zero``) or the
    cells continue periodically (``outside: periodic``).
    """

    k0: float | None = None
    k: float | None = None
    t: float | None = None
    outside: str = "zero"
    name: str = field(default="htge", init=False)
    parameter_ranges: ClassVar[dict[str, ParameterRange]] = {"k0": POSITIVE, "k": POSITIVE, "t": POSITIVE}

    def __post_init__(self):
        super().__post_init__()
        given = [v for v in (self.k0, self.k, self.t) if v is not None]
        if len(given) != 1:
            raise ValueError(f"{self.name}: give exactly one of k0, k, t (got {self.params()})")
        if self.outside not in ("zero", "periodic"):
            raise ValueError(f"{self.name}: outside must be 'zero' or 'periodic', got {self.outside!r}")

    def sharpness(self, q: UniformQuantizer) -> float:
        """Dimensionless per-cell sharpness t = kΔ."""
        if self.t is not None:
            return float(self.t)
        k = self.k if self.k is not None else self.k0 / q.m
        return float(k * q.delta)

    def alpha_closed_form(self, q: UniformQuantizer) -> float:
        """α = t² / (tanh(t/2)(t + sinh t)).

        Paper A eq. 4 with Q̂' = (t/2)·sech²(ts)/tanh(t/2), s = (x − τ)/Δ: the bin integral
        ∫ dx/Q̂' = Δ·tanh(t/2)(t + sinh t)/t² in closed form (this workflow's derivation).
        """
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
    """DSQ's parametrisation of the tanh family (Gong et al. 2019): tanh(t/2) = 1 − α_dsq (paper A App. H)."""

    alpha_dsq: float | None = None
    name: str = field(default="dsq", init=False)
    parameter_ranges: ClassVar[dict[str, ParameterRange]] = {**TanhFamily.parameter_ranges, "alpha_dsq": UNIT_INTERVAL}

    def __post_init__(self):
        self.check_parameters()
        if self.alpha_dsq is not None:
            object.__setattr__(self, "t", 2 * math.atanh(1 - self.alpha_dsq))
        super().__post_init__()


@dataclass(frozen=True)
class MAD(Estimator):
    """Magnitude-aware differentiation (Sakr et al. 2022; paper A App. B, Fig. 1): Q̂' = 1 on |x| ≤ s,
    s/|x| beyond; Q̂ = x inside, sign(x)·s·(1 + log(|x|/s)) beyond; s defaults to the range bound."""

    s: float | None = None
    name: str = field(default="mad", init=False)
    parameter_ranges: ClassVar[dict[str, ParameterRange]] = {"s": POSITIVE}

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
    """Error-decay estimator, binary (Qin et al. 2020; paper A App. B, Fig. 1):
    Q̂' = k·t·(1 − tanh²(t·x/m)), scheduled per epoch by :meth:`at_epoch`; default epoch 0.

    ``t`` and ``k`` are fixed together (by :meth:`at_epoch`, or both given).
    """

    t_min: float = 0.1
    t_max: float = 10.0
    t: float | None = None
    k: float | None = None
    name: str = field(default="ede", init=False)
    cyclical: bool = field(default=False, init=False)
    parameter_ranges: ClassVar[dict[str, ParameterRange]] = {
        "t_min": POSITIVE, "t_max": POSITIVE, "t": POSITIVE, "k": POSITIVE,
    }

    def __post_init__(self):
        super().__post_init__()
        if (self.t is None) != (self.k is None):
            raise ValueError(f"ede: give both t and k or neither (got t={self.t}, k={self.k})")

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
    """Bi-Real net, binary (Liu et al. 2018; paper A App. B): Q̂' = 2 − 2|x|/m on [−m, m], 0 outside;
    Q̂ = m·(2u − sign(u)u²), u = x/m."""

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
    """Quantization networks (Yang et al. 2019; paper A App. B): one sigmoid per threshold τ_i, each
    rising by Δ, Q̂ = w_min + Σ_i Δ·σ_i, Q̂' = Σ_i T·σ_i(1 − σ_i), σ_i = σ(T(x − τ_i)/Δ), with a
    dimensionless temperature T."""

    temperature: float = 5.0
    name: str = field(default="sigmoid_sum", init=False)
    parameter_ranges: ClassVar[dict[str, ParameterRange]] = {"temperature": POSITIVE}

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
