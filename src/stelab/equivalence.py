"""The STE equivalence of paper A (arXiv 2405.05171): α, the weight map M, its inverse, and the
estimator constants of Theorem 5.1.

For a cyclical estimator Q̂ and a uniform quantizer with b ≥ 2 (paper A eq. 4)::

    α    = Δ / ∫_{w−}^{w+} ds / Q̂'(s)              (any inner bin [w−, w+])
    M(w) = w_b + α ∫_{w_b}^{w} ds / Q̂'(s)           (any boundary point w_b)

M is increasing, fixes every threshold (hence Q(M(w)) = Q(w)) and M'(w) = α / Q̂'(w).
For one bit there is a single threshold and α := 1. STE-net (Table 1) then uses the STE
with learning rate αη from M(w₀); for Adam (Table 2) the STE with η from w₀.

Numerics: the integral of 1/Q̂' is computed by Gauss–Legendre quadrature on panels split at
every point where Q̂' is not smooth (levels, thresholds, support ends, the estimator's
kinks). Inside the inner bins one reference period is integrated and extended periodically;
the outer bins are integrated directly. Where Q̂' vanishes (outside its support, paper A
App. G) a weight cannot move, M continues with slope 1 and STE-net trains with the clipped
STE on [M(w_min), M(w_max)] (SGD) or [w_min, w_max] (Adam).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .estimators.base import Estimator
from .estimators.zoo import PWL, STE, TanhFamily
from .estimators import get_estimator, validate_estimator
from .optimizers import ADAPTIVE, check_optimizer
from .quantizers import UniformQuantizer

_GL_NODES = 32


def _gauss_legendre(n: int = _GL_NODES):
    x, w = np.polynomial.legendre.leggauss(n)
    return torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(w, dtype=torch.float64)


class WeightMap:
    """α, M and M⁻¹ for one estimator on one layer's quantizer (vectorised over tensors).

    >>> wm = WeightMap(get_estimator({"name": "htge", "k0": 5.5}), UniformQuantizer(2, 1.0))
    >>> round(wm.alpha, 3)
    0.61
    """

    def __init__(self, estimator: Estimator | str | dict, quantizer: UniformQuantizer):
        self.estimator = get_estimator(estimator)
        self.quantizer = quantizer
        self._nodes, self._weights = _gauss_legendre()
        th = quantizer.thresholds
        self._t0, self._t_last = float(th[0]), float(th[-1])
        self._lo, self._hi = self.estimator.support(quantizer)
        self.alpha = self._alpha()

    def _dq(self, x: torch.Tensor) -> torch.Tensor:
        return self.estimator.grad(x, self.quantizer).to(torch.float64)

    def _integral(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """∫_a^b ds / Q̂'(s) on panels where Q̂' is smooth and positive (one GL rule per pair)."""
        half = (b - a) / 2
        s = (a + b).unsqueeze(-1) / 2 + half.unsqueeze(-1) * self._nodes
        return half * (self._weights / self._dq(s)).sum(-1)

    def _reference_breaks(self) -> np.ndarray:
        """Kinks of Q̂' inside the reference period [τ_0, τ_0 + Δ], including both ends."""
        d = self.quantizer.delta
        pts = [self._t0, self._t0 + d]
        pts += [k for k in self.estimator.kinks(self.quantizer) if self._t0 < k < self._t0 + d]
        return np.unique(np.asarray(pts, dtype=np.float64))

    def _alpha(self) -> float:
        if self.quantizer.n_levels < 3:
            return 1.0
        if isinstance(self.estimator, TanhFamily):
            return self.estimator.alpha_closed_form(self.quantizer)
        return self.alpha_quadrature()

    def alpha_quadrature(self) -> float:
        """α = Δ / ∫ ds/Q̂' over the first inner bin, by panel-wise Gauss–Legendre quadrature."""
        br = torch.as_tensor(self._reference_breaks())
        total = float(self._integral(br[:-1], br[1:]).sum())
        if not math.isfinite(total) or total <= 0:
            raise ValueError(
                f"estimator {self.estimator.describe()}: 1/Q̂' is not integrable over an inner bin "
                "(Q̂' vanishes there), so α and M are undefined"
            )
        return self.quantizer.delta / total

    def _period_map(self, r: torch.Tensor) -> torch.Tensor:
        """P(r) = α ∫_{τ_0}^{τ_0 + r} ds/Q̂'(s) for r ∈ [0, Δ] (reference period)."""
        br = torch.as_tensor(self._reference_breaks())
        cum = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(self._integral(br[:-1], br[1:]), 0)])
        x = self._t0 + r
        k = torch.clamp(torch.searchsorted(br, x.contiguous(), right=True) - 1, 0, len(br) - 2)
        return self.alpha * (cum[k] + self._integral(br[k], x))

    def _outer_map(self, w: torch.Tensor, start: float, sign: int) -> torch.Tensor:
        """M for weights beyond the outermost threshold ``start`` (``sign`` +1 above, −1 below).

        M(w) = start + α ∫_start^w ds/Q̂'(s) up to the support edge, then slope 1 (App. G).
        """
        edge = self._hi if sign > 0 else self._lo
        finite_edge = math.isfinite(edge)
        far = edge if finite_edge else start + sign * (float((w - start).abs().max()) + self.quantizer.delta)
        # Only the kinks between start and far are panel ends (one beyond far made the panels run
        # backwards: M then depended on the other weights of the call and was not increasing).
        kinks = [k for k in self.estimator.kinks(self.quantizer) if sign * (k - start) > 0 and sign * (far - k) > 0]
        # Panel ends every half cell, none within rounding of ``far``: a sliver panel at a support end lies
        # where Q̂' may already evaluate to 0 (its level rounds past the range), which made M(w_max) = inf.
        tol = 1e-9 * self.quantizer.delta
        half_cells = np.arange(1, math.ceil(2 * abs(far - start) / self.quantizer.delta)) * self.quantizer.delta / 2
        grid = [start + sign * h for h in half_cells if sign * (far - (start + sign * h)) > tol]
        points = [start] + sorted(set(kinks + grid), key=lambda k: sign * k) + [far]
        out = torch.full_like(w, start)
        for a, b in zip(points[:-1], points[1:]):
            seg = w.clamp(min(a, b), max(a, b))
            moved = seg != a
            if moved.any():
                out[moved] += self.alpha * self._integral(torch.full_like(seg[moved], a), seg[moved])
        if finite_edge:
            out += torch.where(sign * (w - edge) > 0, w - edge, torch.zeros_like(w))
        return out

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        """M(w), elementwise; returns the dtype and device of ``w``."""
        x = torch.as_tensor(w).detach().to("cpu", torch.float64)
        flat = x.reshape(-1)
        out = torch.empty_like(flat)
        d = self.quantizer.delta
        inner = (flat >= self._t0) & (flat <= self._t_last)
        if self.quantizer.n_levels >= 3 and inner.any():
            wi = flat[inner]
            j = torch.clamp(torch.floor((wi - self._t0) / d), 0, self.quantizer.n_levels - 3)
            out[inner] = self._t0 + j * d + self._period_map(wi - self._t0 - j * d)
        above, below = flat > self._t_last, flat < self._t0
        if self.quantizer.n_levels < 3:
            above, below = flat >= self._t0, flat < self._t0
        if above.any():
            out[above] = self._outer_map(flat[above], self._t_last, +1)
        if below.any():
            out[below] = self._outer_map(flat[below], self._t0, -1)
        ref = torch.as_tensor(w)
        return out.reshape(x.shape).to(ref.device, ref.dtype if ref.is_floating_point() else torch.float64)

    def derivative(self, w: torch.Tensor) -> torch.Tensor:
        """M'(w) = α / Q̂'(w) (1 where Q̂' vanishes)."""
        g = self.estimator.grad(w, self.quantizer)
        return torch.where(g > 0, self.alpha / g.clamp_min(torch.finfo(g.dtype).tiny), torch.ones_like(g))

    def inverse(self, y: torch.Tensor, tol: float = 1e-12, max_iter: int = 60) -> torch.Tensor:
        """M⁻¹(y) by safeguarded Newton iteration (step α/Q̂') inside a bracket; M is increasing."""
        yy = torch.as_tensor(y).detach().to("cpu", torch.float64).reshape(-1)
        d = self.quantizer.delta
        lo, hi = yy - d, yy + d
        for _ in range(64):
            bad_lo, bad_hi = self(lo) > yy, self(hi) < yy
            if not (bad_lo.any() or bad_hi.any()):
                break
            lo = torch.where(bad_lo, 2 * lo - yy, lo)
            hi = torch.where(bad_hi, 2 * hi - yy, hi)
        x = yy.clone()
        active = torch.arange(yy.numel())
        for _ in range(max_iter):
            xa = x[active]
            f = self(xa) - yy[active]
            todo = (f.abs() > tol * d) & (hi[active] - lo[active] > tol * d)
            active, xa, f = active[todo], xa[todo], f[todo]
            if active.numel() == 0:
                break
            lo[active] = torch.where(f < 0, xa, lo[active])
            hi[active] = torch.where(f > 0, xa, hi[active])
            newton = xa - f / self.derivative(xa)
            inside = (newton > lo[active]) & (newton < hi[active])
            x[active] = torch.where(inside, newton, (lo[active] + hi[active]) / 2)
        ref = torch.as_tensor(y)
        return x.reshape(ref.shape).to(ref.device, ref.dtype if ref.is_floating_point() else torch.float64)

    def ste_estimator(self, optimizer: str = "sgd") -> Estimator:
        """The estimator STE-net uses (paper A Tables 1–2 and App. G).

        STE where Q̂' > 0 everywhere; otherwise the clipped STE on [M(w_min), M(w_max)] for
        SGD/momentum and on [w_min, w_max] for Adam, with (w_min, w_max) Q̂''s support.
        """
        check_optimizer(optimizer)
        lo, hi = self._lo, self._hi
        if not (math.isfinite(lo) or math.isfinite(hi)):
            return STE()
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError(f"{self.estimator.name}: Q̂' vanishes on one side only (support [{lo:g}, {hi:g}]); "
                             "the STE-net (paper A App. G) needs a support bounded on both sides or on neither")
        if optimizer not in ADAPTIVE:
            ends = self(torch.tensor([lo, hi], dtype=torch.float64))
            lo, hi = float(ends[0]), float(ends[1])
        return PWL(lo=lo, hi=hi)

    def learning_rate_factor(self, optimizer: str = "sgd") -> float:
        """STE-net's learning-rate factor: α for SGD/momentum, 1 for Adam (Tables 1–2)."""
        return 1.0 if check_optimizer(optimizer) in ADAPTIVE else self.alpha


def _second_derivative(estimator: Estimator, q: UniformQuantizer, x: torch.Tensor) -> torch.Tensor:
    """Q̂''(x) by autograd through the estimator's own Q̂' (zero where Q̂' does not depend on x)."""
    with torch.enable_grad():
        xr = x.detach().clone().requires_grad_(True)
        g = estimator.grad(xr, q)
        if not g.requires_grad:
            return torch.zeros_like(x)
        (h,) = torch.autograd.grad(g.sum(), xr)
    return h


def _lipschitz(estimator: Estimator, q: UniformQuantizer, lo: float, hi: float, n: int) -> float:
    """Lipschitz constant L′ of Q̂' on [lo, hi] (paper A assumption 5.1.2): max |Q̂''| (autograd, then
    refined by golden-section search around the best grid point); ``inf`` when Q̂' jumps
    (finite-difference slopes keep growing as the grid is refined). Every finite-difference slope is a
    lower bound on L′, so an autograd maximum below them (Q̂' computed outside torch's graph) is an
    error, not a number."""
    x = torch.linspace(lo, hi, n, dtype=torch.float64)
    h2 = _second_derivative(estimator, q, x).abs()
    i = int(torch.argmax(h2))
    a, b = float(x[max(i - 1, 0)]), float(x[min(i + 1, n - 1)])
    ratio = (math.sqrt(5) - 1) / 2
    f = lambda v: float(_second_derivative(estimator, q, torch.tensor([v], dtype=torch.float64)).abs())  # noqa: E731
    for _ in range(60):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if f(c) >= f(d):
            b = d
        else:
            a = c
    l_prime = max(float(h2.max()), f((a + b) / 2))
    slopes = []
    for m in (n, 4 * n):
        xs = torch.linspace(lo, hi, m, dtype=torch.float64)
        slopes.append(float((torch.diff(estimator.grad(xs, q)).abs() / torch.diff(xs)).max()))
    if slopes[1] > 2.0 * max(slopes[0], 1e-300) and slopes[1] > 1.5 * l_prime + 1e-12:
        return math.inf
    if slopes[1] > 1.001 * l_prime + 1e-12:
        raise ValueError(
            f"estimator {estimator.describe()}: autograd gives max |Q̂''| = {l_prime:.6g} but Q̂' changes with "
            f"slope {slopes[1]:.6g} between grid points; L′ needs Q̂' built from differentiable torch operations"
        )
    return l_prime


#: constants that may be +inf, and why: L′ when Q̂' jumps (assumption 5.1.2 fails), the coefficients
#: when L′ = inf or L− = 0 (assumption 5.1.1 fails on the range). Any other non-finite constant is an error.
MAY_BE_INFINITE = ("L_prime", "convexity_coeff", "convexity_coeff_edge")


def estimator_constants(estimator, q: UniformQuantizer, n_grid: int = 20001) -> dict:
    """Constants of Theorem 5.1 for one estimator on one layer (paper A §5.2, App. H).

    L− = min Q̂', L+ = max Q̂', L′ = Lipschitz constant of Q̂' (max |Q̂''|), all over the
    representable range [w_min, w_max]; α (eq. 4); the convexity-error coefficient
    L′L+/(2L−²) of eq. 6; the same coefficient with |Q̂''| taken at the range edge
    (``L_prime_edge``, how App. H evaluates DSQ); and the assumption checks:

    * 5.1.1 / 5.2.1 (0 < L− ≤ Q̂' ≤ L+ for all w): ``holds`` if Q̂' > 0 also beyond the range,
      ``range only (App. G)`` if it vanishes outside, ``fails`` if it vanishes inside;
    * 5.1.2 / 5.2.2 (Q̂' Lipschitz): on the representable range;
    * cyclical: Q̂' identical on every inner bin (to 1e-9·L+).

    The estimator is checked first (:func:`~stelab.estimators.validate_estimator`). Raises
    ValueError naming the estimator and the constant if a constant is NaN, or infinite outside
    :data:`MAY_BE_INFINITE`.
    """
    est = validate_estimator(estimator, q)
    w_min, w_max = q.representable_range
    x = torch.linspace(w_min, w_max, n_grid, dtype=torch.float64)
    g = est.grad(x, q).to(torch.float64)
    l_minus, l_plus = float(g.min()), float(g.max())
    l_prime = _lipschitz(est, q, w_min, w_max, n_grid)
    d = q.delta
    beyond = torch.cat([torch.linspace(w_min - 2 * d, w_min, 257), torch.linspace(w_max, w_max + 2 * d, 257)]).double()
    positive_beyond = bool((est.grad(beyond, q) > 0).all())
    if l_minus <= 0:
        a511 = "fails"
    else:
        a511 = "holds" if positive_beyond else "range only (App. G)"
    th = q.thresholds
    cyclical = True
    if len(th) >= 3:
        ref = torch.linspace(th[0], th[1], 513, dtype=torch.float64)
        g_ref = est.grad(ref, q)
        cyclical = all(
            float((est.grad(ref + j * d, q) - g_ref).abs().max()) <= 1e-9 * max(l_plus, 1e-300)
            for j in range(1, len(th) - 1)
        )
    wm = WeightMap(est, q)
    coeff = l_prime * l_plus / (2 * l_minus**2) if l_minus > 0 else math.inf
    inset = 1e-9 * d
    edges = torch.tensor([w_min + inset, w_max - inset], dtype=torch.float64)
    l_prime_edge = float(_second_derivative(est, q, edges).abs().max())
    constants = {
        "L_minus": l_minus,
        "L_plus": l_plus,
        "L_prime": l_prime,
        "alpha": wm.alpha,
        "convexity_coeff": coeff,
        "L_prime_edge": l_prime_edge,
        "convexity_coeff_edge": l_prime_edge * l_plus / (2 * l_minus**2) if l_minus > 0 else math.inf,
    }
    for key, value in constants.items():
        if math.isnan(value) or (math.isinf(value) and key not in MAY_BE_INFINITE):
            raise ValueError(f"estimator {est.describe()} on the {q.bits}-bit {q.layout} quantizer with m={q.m:g}: "
                             f"constant {key} is {value}")
    return {
        "estimator": est.describe(),
        **q.describe(),
        **constants,
        "assumption_5_1_1": a511,
        "assumption_5_1_2": "holds" if math.isfinite(l_prime) else "fails",
        "cyclical": cyclical,
        "ste_net_estimator_sgd": wm.ste_estimator("sgd").describe(),
    }
