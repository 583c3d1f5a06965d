"""The elementwise maps of the model: the weight map g and the input map h.

Paper B (arXiv 2510.10693) quantizes both the weights and the inputs of a linear student,
ŷ = d^{-1/2} Σ g(ŵ_i) h(x_i), with a uniform quantizer of b bits and range ω, and extends the
analysis to nonlinear maps of weights and inputs. :class:`ElementMap` covers a quantizer (either
layout of :class:`stelab.quantizers.UniformQuantizer`), the identity (no quantization), tanh and a
user callable. Its Gaussian moments (E[f(x)], E[x f(x)], E[f(x)²]) for x ~ N(0, 1) give the
constants a and c of :class:`stelab.theory.model.Model`: exact bin sums for a quantizer,
adaptive quadrature otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate

from ..quantizers import UniformQuantizer
from .laws import normal_cdf, normal_pdf

MAP_KINDS = ("quantizer", "identity", "tanh", "callable")


@dataclass
class ElementMap:
    """An elementwise map u ↦ f(u): the weight map g or the input map h of paper B.

    ``quantizer`` maps are step functions: ``thresholds`` and ``levels`` are set and the
    derivative is zero almost everywhere; others are smooth with a derivative ``deriv``.
    """

    kind: str
    params: dict = field(default_factory=dict)
    quantizer: UniformQuantizer | None = None
    _fn: object = None

    @classmethod
    def from_spec(cls, spec, key: str = "map") -> "ElementMap":
        if isinstance(spec, str):
            spec = {"kind": spec}
        if not isinstance(spec, dict) or spec.get("kind") not in MAP_KINDS:
            raise ValueError(f"{key}: kind must be one of {MAP_KINDS}, got {spec!r}")
        kind = spec["kind"]
        params = {k: v for k, v in spec.items() if k != "kind"}
        if kind == "quantizer":
            try:
                q = UniformQuantizer(int(params.get("bits", 2)), float(params.get("omega", 1.0)),
                                     params.get("layout", "range"))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
            return cls(kind, params, quantizer=q)
        if kind == "callable":
            path = params.get("path")
            if not path:
                raise ValueError(f"{key}: a callable map needs 'path: package.module:function'")
            from ..estimators.user import load_callable

            return cls(kind, params, _fn=load_callable(path))
        return cls(kind, params)

    @property
    def is_step(self) -> bool:
        return self.quantizer is not None

    @property
    def is_linear(self) -> bool:
        return self.kind == "identity"

    @property
    def thresholds(self) -> np.ndarray:
        return self.quantizer.thresholds if self.is_step else np.empty(0)

    @property
    def levels(self) -> np.ndarray:
        return self.quantizer.levels if self.is_step else np.empty(0)

    @property
    def bound(self) -> float:
        """sup |f| (inf for unbounded maps)."""
        if self.is_step:
            return float(np.max(np.abs(self.levels)))
        if self.kind == "tanh":
            return float(self.params.get("scale", 1.0))
        return math.inf

    @property
    def clip_range(self) -> tuple[float, float]:
        """The interval of the clipped STE: the representable range (or ±``clip``)."""
        if self.is_step:
            return self.quantizer.representable_range
        r = float(self.params.get("clip", self.bound))
        return -r, r

    def __call__(self, u):
        if self.is_step:
            return self.quantizer(u)
        if self.kind == "identity":
            return u
        if self.kind == "tanh":
            s = float(self.params.get("scale", 1.0))
            return s * np.tanh(u / s)
        return np.asarray(self._fn(u), dtype=np.float64)

    def deriv(self, u):
        """f'(u) (zero almost everywhere for step maps; central differences for callables)."""
        if self.is_step:
            return np.zeros_like(u)
        if self.kind == "identity":
            return np.ones_like(u)
        if self.kind == "tanh":
            s = float(self.params.get("scale", 1.0))
            return 1.0 / np.cosh(u / s) ** 2
        h = 1e-6
        return (self(u + h) - self(u - h)) / (2 * h)

    def gaussian_moments(self) -> tuple[float, float, float]:
        """(E[f(x)], E[x f(x)], E[f(x)²]) for x ~ N(0, 1): exact bin sums or quadrature."""
        if self.is_step:
            edges = np.concatenate([[-np.inf], self.thresholds, [np.inf]])
            lv = self.levels
            p = normal_cdf(edges[1:]) - normal_cdf(edges[:-1])
            xphi = normal_pdf(edges[:-1]) - normal_pdf(edges[1:])
            return float(lv @ p), float(lv @ xphi), float(np.square(lv) @ p)

        def quad(fun):
            return integrate.quad(lambda x: fun(x) * normal_pdf(x), -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12,
                                  limit=200)[0]

        f = lambda x: float(self(np.asarray(x, dtype=np.float64)))  # noqa: E731
        return quad(f), quad(lambda x: x * f(x)), quad(lambda x: f(x) ** 2)

    def describe(self) -> str:
        if self.is_step:
            q = self.quantizer
            return f"Q(b={q.bits}, ω={q.m:g}, {q.layout})"
        if self.kind == "tanh":
            return f"tanh(scale={self.params.get('scale', 1.0)})"
        if self.kind == "callable":
            return self.params["path"]
        return "identity"
