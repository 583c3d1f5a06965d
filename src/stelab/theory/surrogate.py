"""The surrogate s of the STE update ŵ_i ← ŵ_i + η (y − ŷ) s(ŵ_i) h(x_i) / √d.

Paper B (arXiv 2510.10693) analyses the STE, s ≡ 1. The other surrogates are this workflow's
extensions of the same update: the clipped STE s = 1{ŵ in the representable range}, the exact
derivative s = g′ of a smooth weight map, and the derivative Q̂′ of a gradient estimator of
paper A (arXiv 2405.05171; :mod:`stelab.estimators`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .maps import ElementMap

SURROGATES = ("ste", "clipped", "derivative")


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
