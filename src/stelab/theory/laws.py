"""The laws of the model's random quantities: inputs, teacher weights, initial latent weights.

Paper B (arXiv 2510.10693) trains a linear student on a linear teacher with Gaussian inputs. Here
the inputs are x_i iid N(0, 1) (:func:`normal_pdf`, :func:`normal_cdf`); the teacher weights w*_i
are iid from a law P* (:class:`TeacherLaw`: constant, rademacher, discrete or gaussian, ρ = E[w*²]);
the initial latent weights ŵ_i are iid from μ₀ independent of w* (:class:`InitLaw`: normal or
uniform). Paper B's density figure uses w* = 1 and μ₀ = N(0, 1); the other laws are this
workflow's configuration switches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import integrate, special


def normal_pdf(x):
    """φ(x), the standard normal density."""
    return np.exp(-0.5 * np.square(x)) / math.sqrt(2.0 * math.pi)


def normal_cdf(x):
    """Φ(x), the standard normal distribution function."""
    return special.ndtr(x)


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
            return normal_cdf((w - self.mean) / float(self.params.get("std", 1.0)))
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
            return integrate.quad(lambda z: fun(m + s * z) * normal_pdf(z), -np.inf, np.inf, epsabs=1e-13, limit=200)[0]
        lo, hi = float(self.params.get("low", -1.0)), float(self.params.get("high", 1.0))
        return integrate.quad(fun, lo, hi, epsabs=1e-13, limit=200)[0] / (hi - lo)

    def quantiles(self, n: int) -> np.ndarray:
        """n equal-mass quantile points (mid-quantiles) of μ₀."""
        u = (np.arange(n) + 0.5) / n
        if self.kind == "normal":
            return self.mean + float(self.params.get("std", 1.0)) * special.ndtri(u)
        lo, hi = float(self.params.get("low", -1.0)), float(self.params.get("high", 1.0))
        return lo + (hi - lo) * u
