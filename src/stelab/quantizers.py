"""Uniform weight quantizers: levels, rounding thresholds, bins and the forward map Q.

Every quantizer here is uniform with step Δ (paper A, arXiv 2405.05171, eq. 1)::

    Q(x) = o + Δ · clip(round((x − o) / Δ), n_lo, n_hi)

with an offset ``o`` and an integer index range ``[n_lo, n_hi]``. Three layouts:

``range`` (the experiments of paper A; "midrise" in paper B)
    representable range [−m, m], Δ = 2m / (2^b − 1), levels −m + nΔ, n = 0 … 2^b − 1.
    Two bits give ±m/3, ±m (no zero level); one bit gives ±m with a threshold at 0.
``signed_int`` (paper A, App. A)
    Q(x) = Δ · round(clip(x / Δ, −2^{b−1}, 2^{b−1} − 1)) with Δ = m / 2^{b−1},
    so the representable range is [−m, m − Δ].
``midtread`` (paper B, arXiv 2510.10693, §1)
    levels kΔ with |k| ≤ 2^{b−1} − 1 and Δ = m / (2^{b−1} − 1); needs b ≥ 2.

Rounding thresholds ("boundary points") lie half-way between adjacent levels,
τ_i = level_i + Δ/2. The inner bins [τ_{i−1}, τ_i] have length Δ; the two outer bins
are unbounded. All functions accept NumPy arrays and torch tensors alike and keep
dtype and device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LAYOUTS = ("range", "signed_int", "midtread")


def _xp(x):
    """The array module of ``x``: torch for tensors (imported only then), NumPy otherwise."""
    if type(x).__module__.startswith("torch"):
        import torch

        return torch
    return np


@dataclass(frozen=True)
class UniformQuantizer:
    """A uniform quantizer with ``bits`` bits and scale ``m`` in one of :data:`LAYOUTS`.

    ``m`` is the half-width of the representable range: the He-uniform bound
    sqrt(6 / fan_in) in paper A's experiments, ω in paper B.
    """

    bits: int
    m: float = 1.0
    layout: str = "range"

    def __post_init__(self):
        if not isinstance(self.bits, (int, np.integer)) or self.bits < 1:
            raise ValueError(f"bits must be an integer >= 1, got {self.bits!r}")
        if not (self.m > 0 and math.isfinite(self.m)):
            raise ValueError(f"m (range half-width) must be positive and finite, got {self.m!r}")
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if self.layout == "midtread" and self.bits < 2:
            raise ValueError("the midtread layout needs bits >= 2 (one bit has no zero-symmetric grid)")

    @property
    def delta(self) -> float:
        """Step Δ between adjacent levels."""
        b, m = self.bits, float(self.m)
        if self.layout == "range":
            return 2.0 * m / (2**b - 1)
        if self.layout == "signed_int":
            return m / 2 ** (b - 1)
        return m / (2 ** (b - 1) - 1)

    @property
    def offset(self) -> float:
        return -float(self.m) if self.layout == "range" else 0.0

    @property
    def index_range(self) -> tuple[int, int]:
        """Integer range [n_lo, n_hi] of the level index n."""
        b = self.bits
        if self.layout == "range":
            return 0, 2**b - 1
        if self.layout == "signed_int":
            return -(2 ** (b - 1)), 2 ** (b - 1) - 1
        return -(2 ** (b - 1) - 1), 2 ** (b - 1) - 1

    @property
    def n_levels(self) -> int:
        lo, hi = self.index_range
        return hi - lo + 1

    @property
    def levels(self) -> np.ndarray:
        """The representable values, ascending (float64)."""
        lo, hi = self.index_range
        return self.offset + self.delta * np.arange(lo, hi + 1, dtype=np.float64)

    @property
    def thresholds(self) -> np.ndarray:
        """Rounding thresholds (boundary points) τ_i = level_i + Δ/2, ascending."""
        return self.levels[:-1] + self.delta / 2.0

    @property
    def representable_range(self) -> tuple[float, float]:
        """[w_min, w_max]: the smallest and largest level."""
        lv = self.levels
        return float(lv[0]), float(lv[-1])

    def __call__(self, x):
        """Forward quantization Q(x) (paper A eq. 1)."""
        xp = _xp(x)
        lo, hi = self.index_range
        d, o = self.delta, self.offset
        n = xp.clip(xp.round((x - o) / d), lo, hi)
        return o + d * n

    def index(self, x):
        """Level index n of Q(x) relative to the lowest level (0 … n_levels − 1)."""
        xp = _xp(x)
        lo, hi = self.index_range
        n = xp.clip(xp.round((x - self.offset) / self.delta), lo, hi) - lo
        return n.astype(np.int64) if xp is np else n.long()

    def bin_index(self, x):
        """Index j of the bin holding x: 0 for x < τ_0, j for τ_{j−1} ≤ x < τ_j, n_levels − 1 above.

        Equal to :meth:`index` except exactly at a threshold, where bins are closed on the left.
        """
        xp = _xp(x)
        th = self.thresholds
        if xp is not np:
            return xp.bucketize(x, xp.as_tensor(th, dtype=x.dtype, device=x.device), right=True)
        return np.searchsorted(th, x, side="right")

    def describe(self) -> dict:
        """Plain-data summary for tables and JSON."""
        w_min, w_max = self.representable_range
        return {
            "bits": int(self.bits),
            "m": float(self.m),
            "layout": self.layout,
            "delta": self.delta,
            "w_min": w_min,
            "w_max": w_max,
            "n_levels": self.n_levels,
        }


def he_uniform_bound(fan_in: int) -> float:
    """He-uniform limit m = sqrt(6 / fan_in), used as the layer's range (paper A §6.1)."""
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    return math.sqrt(6.0 / fan_in)
