"""The linear teacher–student model of paper B (arXiv 2510.10693) and its constants a, c and ε.

Setting (paper B): inputs x ∈ ℝ^d iid N(0, 1), a fresh sample every step; teacher
y = d^{-1/2} Σ w*_i x_i + σξ; student ŷ = d^{-1/2} Σ g(ŵ_i) h(x_i) with a weight map g and an
input map h (:mod:`stelab.theory.maps`), trained by online SGD on ℓ = ½(y − ŷ)² through a
surrogate s (:mod:`stelab.theory.surrogate`)::

    ŵ_i ← ŵ_i + η (y − ŷ) s(ŵ_i) h(x_i) / √d,            time τ = steps / d.

The constants and the error below are this workflow's own derivation for that setting (the texts
of paper B held by this project state no equations, so none is cited by number). Constants
a = E[x h(x)], c = E[h(x)²] for x ~ N(0, 1); the limit also needs E[h(x)] = 0, which is checked.
Generalisation error (noise-free MSE)::

    ε = E[w*² − 2a w* g(ŵ) + c g(ŵ)²]    over the joint law of (ŵ_i, w*_i).

``error: half`` reports ½ε instead of ε in every output table (the dynamics always use ε).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .laws import InitLaw, TeacherLaw
from .maps import ElementMap
from .surrogate import Surrogate


@dataclass
class Model:
    """One setting of the model (maps, surrogate, η, σ, laws) with its constants a, c, ρ."""

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
        """Per-coordinate error w*² − 2a w* g + c g² (the summand of ε above)."""
        return np.square(w_star) - 2.0 * self.a * w_star * gw + self.c * np.square(gw)

    def diffusion(self, eps: float) -> float:
        """D = ½ η² c (ε + σ²): the diffusion coefficient of the limit SDE for s ≡ 1
        (:mod:`stelab.theory.fokker_planck`)."""
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
