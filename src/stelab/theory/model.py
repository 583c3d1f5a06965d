"""The linear teacher–student model of spec B §1–2: maps, surrogate, laws, constants a, c and ε.

Model (spec B §1). Inputs x ∈ ℝ^d iid N(0, 1), a fresh sample every step; teacher
y = d^{-1/2} Σ w*_i x_i + σξ; student ŷ = d^{-1/2} Σ g(ŵ_i) h(x_i) with a weight map g and
an input map h (a quantizer in either layout, the identity, tanh, or a user callable).
One online-SGD step on ℓ = ½(y − ŷ)² through a surrogate s:

    ŵ_i ← ŵ_i + η (y − ŷ) s(ŵ_i) h(x_i) / √d,            time τ = steps / d.

Constants (spec B §2): a = E[x h(x)], c = E[h(x)²] (x ~ N(0, 1)); exact bin sums for step
maps, adaptive quadrature otherwise. The limit also needs E[h(x)] = 0, which is checked.
Generalisation error (noise-free MSE, spec B §2):

    ε = E[w*² − 2a w* g(ŵ) + c g(ŵ)²]    over the joint law of (ŵ_i, w*_i).

``error: half`` reports ½ε instead of ε in every output table (the dynamics always use ε).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import integrate, special

from ..quantizers import UniformQuantizer

SURROGATES = ("ste", "clipped", "derivative")
MAP_KINDS = ("quantizer", "identity", "tanh", "callable")


def _phi(x):
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)


def _Phi(x):
    return special.ndtr(x)


def deep_merge(base: dict, override: dict | None) -> dict:
    """Recursive dict merge (override wins); returns a new dict."""
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and "kind" not in v:
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and v.get("kind") == out[k].get("kind"):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


# ---------------------------------------------------------------- elementwise maps g and h
@dataclass
class ElementMap:
    """An elementwise map u ↦ f(u) (spec B §1: weight map g, input map h).

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
            from ..estimators import load_callable

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
            p = _Phi(edges[1:]) - _Phi(edges[:-1])
            xphi = _phi(edges[:-1]) - _phi(edges[1:])
            return float(lv @ p), float(lv @ xphi), float(np.square(lv) @ p)

        def quad(fun):
            return integrate.quad(lambda x: fun(x) * _phi(x), -np.inf, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200)[0]

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


# ---------------------------------------------------------------- surrogate s
@dataclass
class Surrogate:
    """s(ŵ) of the STE step: 1 (STE), 1{ŵ ∈ range} (clipped), g'(ŵ), or an estimator Q̂'."""

    kind: str
    g: ElementMap
    estimator: object = None

    @classmethod
    def from_spec(cls, spec, g: ElementMap, key: str = "surrogate") -> "Surrogate":
        if isinstance(spec, dict) and "estimator" in spec:
            if not g.is_step:
                raise ValueError(f"{key}: an estimator surrogate needs a quantizer weight map")
            from ..estimators import get_estimator

            est = get_estimator(spec["estimator"])
            if est.name == "ste":
                return cls("ste", g)
            return cls("estimator", g, est)
        if spec not in SURROGATES:
            raise ValueError(f"{key}: must be one of {SURROGATES} or {{estimator: <spec>}}, got {spec!r}")
        if spec == "derivative" and g.is_step:
            raise ValueError(f"{key}: 'derivative' needs a smooth weight map (g' = 0 a.e. for a quantizer)")
        return cls(spec, g)

    @property
    def is_one(self) -> bool:
        return self.kind == "ste"

    def __call__(self, w):
        if self.kind == "ste":
            return np.ones_like(w)
        if self.kind == "clipped":
            lo, hi = self.g.clip_range
            return ((w >= lo) & (w <= hi)).astype(np.float64)
        if self.kind == "derivative":
            return self.g.deriv(w)
        import torch

        t = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float64))
        return self.estimator.grad(t, self.g.quantizer).numpy()

    def breakpoints(self) -> np.ndarray:
        """Points where s jumps (clip edges, estimator support ends): put on PDE cell faces."""
        if self.kind == "clipped":
            return np.array(self.g.clip_range)
        if self.kind == "estimator":
            lo, hi = self.estimator.support(self.g.quantizer)
            return np.array([v for v in (lo, hi) if math.isfinite(v)])
        return np.empty(0)

    def describe(self) -> str:
        return self.estimator.describe() if self.kind == "estimator" else self.kind


# ---------------------------------------------------------------- laws
@dataclass
class TeacherLaw:
    """Law P* of the teacher weights w*_i: constant, discrete, rademacher or gaussian.

    ``values``/``probs`` is the discrete form the limit solvers use (one PDE per value);
    a gaussian law is discretised there by Gauss–Hermite nodes, sampled exactly in simulations.
    """

    kind: str
    values: np.ndarray
    probs: np.ndarray
    params: dict

    @classmethod
    def from_spec(cls, spec, key: str = "teacher") -> "TeacherLaw":
        kind = spec.get("kind", "constant")
        if kind == "constant":
            return cls(kind, np.array([float(spec.get("value", 1.0))]), np.array([1.0]), dict(spec))
        if kind == "rademacher":
            v = float(spec.get("value", 1.0))
            return cls(kind, np.array([-v, v]), np.array([0.5, 0.5]), dict(spec))
        if kind == "discrete":
            vals = np.asarray(spec.get("values", []), dtype=np.float64)
            probs = np.asarray(spec.get("probs", np.full(len(vals), 1.0 / max(len(vals), 1))), dtype=np.float64)
            if len(vals) == 0 or len(probs) != len(vals) or np.any(probs < 0) or abs(probs.sum() - 1) > 1e-9:
                raise ValueError(f"{key}: discrete law needs values and non-negative probs summing to 1")
            return cls(kind, vals, probs, dict(spec))
        if kind == "gaussian":
            n = int(spec.get("nodes", 9))
            x, w = np.polynomial.hermite_e.hermegauss(n)
            mean, std = float(spec.get("mean", 0.0)), float(spec.get("std", 1.0))
            return cls(kind, mean + std * x, w / w.sum(), dict(spec))
        raise ValueError(f"{key}: kind must be constant, rademacher, discrete or gaussian, got {kind!r}")

    @property
    def rho(self) -> float:
        """ρ = E[w*²] (exact for every kind)."""
        if self.kind == "gaussian":
            return float(self.params.get("mean", 0.0)) ** 2 + float(self.params.get("std", 1.0)) ** 2
        return float(self.probs @ np.square(self.values))

    def sample(self, rng: np.random.Generator, d: int) -> np.ndarray:
        if self.kind == "constant":
            return np.full(d, self.values[0])
        if self.kind == "gaussian":
            return float(self.params.get("mean", 0.0)) + float(self.params.get("std", 1.0)) * rng.standard_normal(d)
        return rng.choice(self.values, size=d, p=self.probs)


@dataclass
class InitLaw:
    """Initial law μ₀ of the latent weights: normal(mean, std) or uniform(low, high), iid of w*."""

    kind: str
    params: dict

    @classmethod
    def from_spec(cls, spec, key: str = "init") -> "InitLaw":
        kind = spec.get("kind", "normal")
        if kind == "normal":
            if float(spec.get("std", 1.0)) <= 0:
                raise ValueError(f"{key}.std must be positive")
        elif kind == "uniform":
            if not float(spec.get("low", -1.0)) < float(spec.get("high", 1.0)):
                raise ValueError(f"{key}: need low < high")
        else:
            raise ValueError(f"{key}: kind must be normal or uniform, got {kind!r}")
        return cls(kind, dict(spec))

    @property
    def mean(self) -> float:
        if self.kind == "normal":
            return float(self.params.get("mean", 0.0))
        return 0.5 * (float(self.params.get("low", -1.0)) + float(self.params.get("high", 1.0)))

    @property
    def var(self) -> float:
        if self.kind == "normal":
            return float(self.params.get("std", 1.0)) ** 2
        return (float(self.params.get("high", 1.0)) - float(self.params.get("low", -1.0))) ** 2 / 12.0

    def cdf(self, w):
        if self.kind == "normal":
            return _Phi((w - self.mean) / float(self.params.get("std", 1.0)))
        lo, hi = float(self.params.get("low", -1.0)), float(self.params.get("high", 1.0))
        return np.clip((w - lo) / (hi - lo), 0.0, 1.0)

    def sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        if self.kind == "normal":
            return self.mean + float(self.params.get("std", 1.0)) * rng.standard_normal(shape)
        return rng.uniform(float(self.params.get("low", -1.0)), float(self.params.get("high", 1.0)), shape)

    def expect(self, f) -> float:
        """E_{μ₀}[f(ŵ)] by adaptive quadrature."""
        fun = lambda w: float(f(np.asarray(w, dtype=np.float64)))  # noqa: E731
        if self.kind == "normal":
            m, s = self.mean, float(self.params.get("std", 1.0))
            return integrate.quad(lambda z: fun(m + s * z) * _phi(z), -np.inf, np.inf, epsabs=1e-13, limit=200)[0]
        lo, hi = float(self.params.get("low", -1.0)), float(self.params.get("high", 1.0))
        return integrate.quad(fun, lo, hi, epsabs=1e-13, limit=200)[0] / (hi - lo)

    def quantiles(self, n: int) -> np.ndarray:
        """n equal-mass quantile points (mid-quantiles) of μ₀."""
        u = (np.arange(n) + 0.5) / n
        if self.kind == "normal":
            return self.mean + float(self.params.get("std", 1.0)) * special.ndtri(u)
        lo, hi = float(self.params.get("low", -1.0)), float(self.params.get("high", 1.0))
        return lo + (hi - lo) * u


# ---------------------------------------------------------------- the model
@dataclass
class Model:
    """One setting of spec B §1–2 with its constants a, c, ρ."""

    g: ElementMap
    h: ElementMap
    s: Surrogate
    eta: float
    sigma: float
    teacher: TeacherLaw
    init: InitLaw
    error_scale: float
    spec: dict
    a: float = 0.0
    c: float = 0.0
    mean_h: float = 0.0

    @classmethod
    def from_spec(cls, spec: dict, key: str = "theory.model") -> "Model":
        g = ElementMap.from_spec(spec.get("weight_map", {"kind": "identity"}), f"{key}.weight_map")
        h = ElementMap.from_spec(spec.get("input_map", {"kind": "identity"}), f"{key}.input_map")
        s = Surrogate.from_spec(spec.get("surrogate", "ste"), g, f"{key}.surrogate")
        eta = float(spec.get("eta", 0.1))
        if not eta > 0:
            raise ValueError(f"{key}.eta must be positive, got {eta}")
        sigma = float(spec.get("sigma", 0.0))
        if sigma < 0:
            raise ValueError(f"{key}.sigma must be >= 0, got {sigma}")
        err = spec.get("error", "full")
        if err not in ("full", "half"):
            raise ValueError(f"{key}.error must be 'full' or 'half', got {err!r}")
        mean_h, a, c = h.gaussian_moments()
        if abs(mean_h) > 1e-9:
            raise ValueError(
                f"{key}.input_map: E[h(x)] = {mean_h:.3g} ≠ 0; the limit needs a zero-mean input map "
                "(use the 'range' (midrise) or 'midtread' layout)"
            )
        return cls(g, h, s, eta, sigma, TeacherLaw.from_spec(spec.get("teacher", {}), f"{key}.teacher"),
                   InitLaw.from_spec(spec.get("init", {}), f"{key}.init"), 1.0 if err == "full" else 0.5,
                   copy.deepcopy(spec), a, c, mean_h)

    @property
    def rho(self) -> float:
        return self.teacher.rho

    def error_terms(self, w_star, gw):
        """Per-coordinate error w*² − 2a w* g + c g² (spec B §2)."""
        return np.square(w_star) - 2.0 * self.a * w_star * gw + self.c * np.square(gw)

    def diffusion(self, eps: float) -> float:
        """D = ½ η² c (ε + σ²): the diffusion coefficient of the limit SDE for s ≡ 1 (spec B §3)."""
        return 0.5 * self.eta**2 * self.c * (eps + self.sigma**2)

    def initial_error(self) -> float:
        """ε(0) = E_{w*}E_{ŵ~μ₀}[w*² − 2a w* g + c g²]: exact bin sums for step g, quadrature otherwise."""
        if self.g.is_step:
            edges = np.concatenate([[-np.inf], self.g.thresholds, [np.inf]])
            p = np.diff(self.init.cdf(edges))
            eg, eg2 = float(self.g.levels @ p), float(np.square(self.g.levels) @ p)
        else:
            eg = self.init.expect(self.g)
            eg2 = self.init.expect(lambda w: np.square(self.g(w)))
        tv, tp = self.teacher.values, self.teacher.probs
        return float(self.rho - 2.0 * self.a * (tp @ tv) * eg + self.c * eg2)

    def describe(self) -> dict:
        return {
            "weight_map": self.g.describe(), "input_map": self.h.describe(), "surrogate": self.s.describe(),
            "eta": self.eta, "sigma": self.sigma, "a": self.a, "c": self.c, "rho": self.rho,
            "error": "full" if self.error_scale == 1.0 else "half",
        }
