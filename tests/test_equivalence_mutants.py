"""The equivalence module (stelab/equivalence.py) on the inputs its mutation run found untested (issue 17).

Every expected value comes from paper A's definitions (arXiv 2405.05171), in closed form here, never from the module:

* M(w) = τ_0 + α ∫_{τ_0}^{w} ds/Q̂'(s) with α = Δ / ∫_bin ds/Q̂' (eq. 4); one bit: α := 1, M(w) = ∫_0^w ds/Q̂';
  beyond a finite support M continues with slope 1 (App. G). For the HTGE, 1/Q̂' = (2 tanh(t/2)/t)·cosh²(t·s) with
  s the phase from the threshold, so ∫ ds/Q̂' = Δ·(2 tanh(t/2)/t)·G(s), G(s) = s/2 + sinh(2ts)/(4t).
* L− = min Q̂', L+ = max Q̂', L′ = max |Q̂''| on [w_min, w_max]; L′_edge = |Q̂''| at the range edge (App. H);
  cyclical: Q̂' the same on every inner bin to 1e-9·L+; L′ = ∞ when Q̂' jumps (assumption 5.1.2 fails).
* M⁻¹ solves M(x) = y to |M(x) − y| ≤ tol·Δ and keeps y's dtype (an integer y gives float64).
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from stelab.equivalence import WeightMap, _lipschitz, estimator_constants
from stelab.estimators import get_estimator
from stelab.estimators.base import Estimator
from stelab.quantizers import UniformQuantizer


def _phase(x, q):
    """(x − τ_0)/Δ mod 1: 0 at every threshold, ½ at every level."""
    u = (x - float(q.thresholds[0])) / q.delta
    return u - torch.floor(u)


@dataclass(frozen=True)
class Steps(Estimator):
    """Q̂' = 1 on the outer quarters of every bin and 2 on its middle half: two kinks inside each period, listed up to
    |x| ≤ reach (kinks beyond max|w| + Δ on an unbounded support made M run backwards until they were left out of
    the panels; see test_equivalence_edges.py)."""

    reach: float = 1.0
    name: str = field(default="steps", init=False)

    def grad(self, x, q):
        p = _phase(x, q)
        return torch.where((p >= 0.25) & (p < 0.75), 2.0 * torch.ones_like(x), torch.ones_like(x))

    def kinks(self, q):
        t0, d = float(q.thresholds[0]), q.delta
        points = (t0 + (j + f) * d for j in range(-64, 64) for f in (0.25, 0.75))
        return tuple(k for k in points if abs(k) <= self.reach)


@dataclass(frozen=True)
class Plateau(Estimator):
    """Q̂' = 1 on |x| ≤ c, 2 on c < |x| ≤ edge, 0 beyond (support [−edge, edge]); kinks at ±c, ±edge and the levels
    (those beyond the support are still listed, as the base class lists every level)."""

    c: float = 0.75
    edge: float = 0.9
    name: str = field(default="plateau", init=False)

    def grad(self, x, q):
        a = x.abs()
        return torch.where(a <= self.c, torch.ones_like(x), torch.where(a <= self.edge, 2.0, 0.0).to(x.dtype))

    def support(self, q):
        return -self.edge, self.edge

    def kinks(self, q):
        return (-self.edge, -self.c, self.c, self.edge, *q.levels)


def plateau_m(w, c, edge):
    a = np.abs(w)
    inside = np.where(a <= c, a, c + (np.minimum(a, edge) - c) / 2 + np.maximum(a - edge, 0.0))
    return np.sign(w) * inside


@dataclass(frozen=True)
class Infinite(Estimator):
    """Q̂' = +∞: 1/Q̂' integrates to 0 over a bin, so α = Δ/0 is undefined."""

    name: str = field(default="infinite", init=False)

    def grad(self, x, q):
        return torch.full_like(x, math.inf)


@dataclass(frozen=True)
class Bowl(Estimator):
    """Q̂' = 1 + c·(clip(x) − anchor)² on the range, constant beyond: |Q̂''| = 2c·(w_max − w_min) at the far edge."""

    c: float = 0.3
    high: bool = False
    name: str = field(default="bowl", init=False)

    def grad(self, x, q):
        w_min, w_max = q.representable_range
        return 1.0 + self.c * (x.clamp(w_min, w_max) - (w_min if self.high else w_max)) ** 2


@dataclass(frozen=True)
class Bumps(Estimator):
    """Q̂' = scale·(1 + (½ + drift·x)·sin²(π·phase)): equal at every threshold, cyclical iff drift = 0."""

    scale: float = 1.0
    drift: float = 0.0
    name: str = field(default="bumps", init=False)

    def grad(self, x, q):
        return self.scale * (1.0 + (0.5 + self.drift * x) * torch.sin(math.pi * _phase(x, q)) ** 2)


@dataclass(frozen=True)
class HalfOutsideAutograd(Estimator):
    """Q̂' = 1 + 0.1 sin 3x + 0.1 sin 3x with the second term computed in NumPy: autograd sees half of Q̂''."""

    name: str = field(default="half_outside_autograd", init=False)

    def grad(self, x, q):
        detached = torch.as_tensor(0.1 * np.sin(3.0 * x.detach().cpu().numpy()), dtype=x.dtype)
        return 1.0 + 0.1 * torch.sin(3.0 * x) + detached


@dataclass(frozen=True)
class Jump(Estimator):
    """Q̂' = 1 + wave·sin(πx), plus ``size`` beyond x = ``at``: a jump, however small, is not Lipschitz."""

    size: float = 1e-5
    at: float = 0.1234
    wave: float = 0.0
    name: str = field(default="jump", init=False)

    def grad(self, x, q):
        return torch.where(x > self.at, 1.0 + self.size, 1.0).to(x.dtype) + self.wave * torch.sin(math.pi * x)


@dataclass(frozen=True)
class TriangleOnSupport(Estimator):
    """Q̂' = ½ at every threshold rising linearly to 1 at every level (kinks at both), on [w_min − 2Δ, w_max + 2Δ],
    0 beyond; it lists only the range's levels as kinks (base class), so M must split the outer panels itself."""

    name: str = field(default="triangle_on_support", init=False)

    def grad(self, x, q):
        lo, hi = self.support(q)
        g = 1.0 - (_phase(x, q) - 0.5).abs()
        return torch.where((x >= lo) & (x <= hi), g, torch.zeros_like(x))

    def support(self, q):
        w_min, w_max = q.representable_range
        return w_min - 2 * q.delta, w_max + 2 * q.delta


def triangle_m(w, q):
    """M for TriangleOnSupport: 1/Q̂' = 1/(½ + φ) on φ ∈ [0, ½], so a bin integrates to 2 ln 2·Δ, α = 1/(2 ln 2)."""
    tau0, d = float(q.thresholds[0]), q.delta
    lo, hi = q.representable_range[0] - 2 * d, q.representable_range[1] + 2 * d
    x = np.clip(w, lo, hi)
    v = (x - tau0) / d
    f = v - np.floor(v)
    inner = np.log(0.5 + np.minimum(f, 0.5)) - np.log(0.5) + np.where(f > 0.5, -np.log(1.5 - f), 0.0)
    return tau0 + d * (np.floor(v) + inner / (2 * math.log(2))) + (w - x)


def htge_m(w, q, t, periodic_beyond=True):
    """M of the HTGE (t = kΔ) from eq. 4 in closed form: whole bins map to whole bins, inside a bin G(s)/(2G(½))."""
    G = lambda s: s / 2 + np.sinh(2 * t * s) / (4 * t)  # noqa: E731
    tau0, d = float(q.thresholds[0]), q.delta
    v = (np.asarray(w, dtype=np.float64) - tau0) / d
    f = v - np.floor(v)
    s = np.where(f < 0.5, f, f - 1.0)
    m = tau0 + d * (np.floor(v) + (f >= 0.5) + G(s) / (2 * G(0.5)))
    if periodic_beyond:
        return m
    w_min, w_max = q.representable_range
    return np.where(w > w_max, w, np.where(w < w_min, w, m))


@pytest.mark.parametrize("bits, m", [(2, 1.0), (3, 0.37)])
def test_m_with_two_kinks_inside_every_period(bits, m):
    """Q̂' = 1, 2, 1 on the quarters ¼, ½, ¼ of a bin: ∫ = ¾Δ per bin, α = 4/3, M piecewise linear."""
    q = UniformQuantizer(bits, m)
    wm = WeightMap(Steps(reach=2.5 * m + q.delta / 2), q)
    assert wm.alpha == pytest.approx(4 / 3, rel=1e-13)
    w = torch.linspace(-2.5 * m, 2.5 * m, 801, dtype=torch.float64)
    v = (w.numpy() - float(q.thresholds[0])) / q.delta
    f = v - np.floor(v)
    part = np.where(f < 0.25, f, np.where(f < 0.75, 0.25 + (f - 0.25) / 2, 0.5 + (f - 0.75)))
    want = float(q.thresholds[0]) + q.delta * (np.floor(v) + part / 0.75)
    np.testing.assert_allclose(wm(w).numpy(), want, rtol=0, atol=1e-12)


def test_m_splits_the_outer_panels_at_kinks_up_to_a_finite_support_end():
    """Q̂' steps from 1 to 2 at |x| = 0.75 (inside the outer half-bin [2/3, 0.9]) and vanishes beyond 0.9, where the
    levels ±1 are listed as kinks too: M(w) = w, then c + (w − c)/2, then slope 1 (App. G)."""
    q = UniformQuantizer(2, 1.0)
    wm = WeightMap(Plateau(), q)
    assert wm.alpha == 1.0
    w = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    np.testing.assert_allclose(wm(w).numpy(), plateau_m(w.numpy(), 0.75, 0.9), rtol=0, atol=1e-12)


def test_m_splits_the_outer_panels_at_every_half_cell_up_to_the_support_end():
    """Beyond the range the levels and thresholds continue (kinks the estimator does not list) up to the support end
    two cells out; M is the closed form of TriangleOnSupport there and continues with slope 1 beyond."""
    q = UniformQuantizer(2, 1.0)
    wm = WeightMap(TriangleOnSupport(), q)
    assert wm.alpha == pytest.approx(1 / (2 * math.log(2)), rel=1e-13)
    w = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
    np.testing.assert_allclose(wm(w).numpy(), triangle_m(w.numpy(), q), rtol=0, atol=1e-12)


@pytest.mark.parametrize("bits", [2, 3])
def test_m_maps_the_range_ends_onto_themselves_for_very_wide_ranges(bits):
    """The sliver-panel tolerance is relative to Δ: with m up to 1e6 the level w_max still maps onto itself."""
    for m in np.geomspace(1e2, 1e6, 120):
        q = UniformQuantizer(bits, float(m))
        ends = torch.tensor(q.representable_range, dtype=torch.float64)
        np.testing.assert_allclose(WeightMap(get_estimator({"name": "htge", "k0": 5.5}), q)(ends), ends, rtol=1e-9,
                                   err_msg=f"m={m}")


def test_alpha_is_undefined_when_the_bin_integral_vanishes():
    with pytest.raises(ValueError, match=r"infinite: 1/Q̂' is not integrable over an inner bin"):
        WeightMap(Infinite(), UniformQuantizer(2, 1.0))


@pytest.mark.parametrize("layout, bits, m", [("midtread", 2, 0.9), ("signed_int", 3, 1.0), ("range", 2, 0.37)])
def test_htge_m_in_closed_form_on_every_layout(layout, bits, m):
    """Three levels (midtread, 2 bits) still have one inner bin: α of eq. 4 (t²/(tanh(t/2)(t + sinh t))), not 1."""
    q = UniformQuantizer(bits, m, layout)
    t = 5.5 / m * q.delta
    for outside in ("periodic", "zero"):
        wm = WeightMap(get_estimator({"name": "htge", "k0": 5.5, "outside": outside}), q)
        assert wm.alpha == pytest.approx(t * t / (math.tanh(t / 2) * (t + math.sinh(t))), rel=1e-12)
        w = torch.linspace(-2.5 * m, 2.5 * m, 501, dtype=torch.float64)
        want = htge_m(w.numpy(), q, t, periodic_beyond=outside == "periodic")
        np.testing.assert_allclose(wm(w).numpy(), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("layout", ["range", "signed_int"])
def test_one_bit_m_starts_at_the_threshold_with_alpha_one(layout):
    """One bit: a single threshold τ_0 (0 for ±m, −m/2 for the levels −m, 0), α := 1,
    M(w) = τ_0 + Δ·(2 tanh(t/2)/t)·G((w − τ_0)/Δ) on [w_min, w_max], slope 1 beyond; M(τ_0) = τ_0 itself."""
    q = UniformQuantizer(1, 0.5, layout)
    t = 1.0 / 0.5 * q.delta
    tau0, (w_min, w_max) = float(q.thresholds[0]), q.representable_range
    wm = WeightMap(get_estimator({"name": "htge", "k0": 1.0}), q)
    assert wm.alpha == 1.0
    w = torch.cat([torch.full((3,), tau0, dtype=torch.float64), torch.linspace(-1.5, 1.5, 301, dtype=torch.float64)])
    G = lambda s: s / 2 + np.sinh(2 * t * s) / (4 * t)  # noqa: E731
    c = 2 * math.tanh(t / 2) / t
    x = w.numpy()
    inside = np.clip(x, w_min, w_max)
    want = tau0 + q.delta * c * G((inside - tau0) / q.delta) + (x - inside)
    np.testing.assert_allclose(wm(w).numpy(), want, rtol=0, atol=1e-12)


def test_m_fixes_the_thresholds_of_an_eight_bit_quantizer_to_the_last_bit():
    """At 8 bits (w − τ_0)/Δ rounds up to a whole number near some thresholds, leaving a phase of −1 ulp: the map must
    still start that bin at its threshold (Steps: a Q̂' with jumps, so a phase taken from the wrong end shows)."""
    q = UniformQuantizer(8, 0.3)
    wm = WeightMap(Steps(reach=0.3), q)
    th = torch.tensor(q.thresholds, dtype=torch.float64)
    w = (th.unsqueeze(1) + torch.arange(-40, 41, dtype=torch.float64) * 1e-17).reshape(-1)  # τ_j and ±7 ulps
    np.testing.assert_allclose(wm(w).numpy(), w.numpy(), rtol=0, atol=1e-12 * q.delta)


def test_m_keeps_the_dtype_of_its_input():
    wm = WeightMap(get_estimator({"name": "mad"}), UniformQuantizer(2, 1.0))
    w32 = torch.tensor([-3.0, -0.2, 0.5, 2.0], dtype=torch.float32)
    y32 = wm(w32)
    assert y32.dtype == torch.float32
    want = np.where(np.abs(w32.double().numpy()) <= 1, w32.double().numpy(),
                    np.sign(w32.double().numpy()) * (1 + (w32.double().numpy() ** 2 - 1) / 2))
    np.testing.assert_array_equal(y32.numpy(), want.astype(np.float32))


def test_inverse_of_integer_and_float32_inputs_is_solved_in_float64():
    """MAD: M(w) = sign(w)·(1 + (w² − 1)/2) beyond 1, so M⁻¹(y) = sign(y)·√(2|y| − 1)."""
    wm = WeightMap(get_estimator({"name": "mad"}), UniformQuantizer(2, 1.0))
    x = wm.inverse(torch.tensor([2, -3, 5]))
    assert x.dtype == torch.float64
    np.testing.assert_allclose(x.numpy(), [math.sqrt(3), -math.sqrt(5), 3.0], rtol=0, atol=1e-12)
    y32 = torch.tensor([1.7, -2.9, 4.1], dtype=torch.float32)
    exact = np.sign(y32.double().numpy()) * np.sqrt(2 * np.abs(y32.double().numpy()) - 1)
    np.testing.assert_array_equal(wm.inverse(y32).numpy(), exact.astype(np.float32))


@pytest.mark.parametrize("spec", [{"name": "dsq", "alpha_dsq": 0.01},
                                  {"name": "user_estimators:raised_cosine", "depth": 0.99}],
                         ids=["dsq-steep", "raised-cosine-deep"])
def test_inverse_of_a_steep_map_needs_its_bracket(spec):
    """Q̂' varying 100-fold over a bin: Newton's steps overshoot and the bracket (bisection) must catch them."""
    q = UniformQuantizer(2, 1.0)
    wm = WeightMap(get_estimator(spec), q)
    w = torch.linspace(-1.6, 1.6, 81, dtype=torch.float64)
    np.testing.assert_allclose(wm.inverse(wm(w)).numpy(), w.numpy(), rtol=0, atol=1e-9)


def test_inverse_tolerance_is_relative_to_delta():
    """A 0.01-wide range (Δ = 1/150): tol = 1e-4 means |M(x) − y| ≤ 1e-4·Δ ≈ 7e-7, whatever Δ is."""
    q = UniformQuantizer(2, 0.01)
    wm = WeightMap(get_estimator({"name": "htge", "k0": 5.5}), q)
    w = torch.linspace(-0.015, 0.015, 61, dtype=torch.float64)
    y = torch.as_tensor(htge_m(w.numpy(), q, 5.5 / 0.01 * q.delta, periodic_beyond=False))
    x = wm.inverse(y, tol=1e-4)
    assert float((torch.as_tensor(htge_m(x.numpy(), q, 5.5 / 0.01 * q.delta, False)) - y).abs().max()) <= 1e-4 * q.delta
    assert float((wm.inverse(y) - w).abs().max()) <= 1e-9 * q.delta


# --- estimator_constants: L′, L′ at the edge, cyclical --------------------------------------------------------


def htge_second_derivative(q, t, x):
    """|Q̂''| of the HTGE at x (s = phase from the nearest threshold): (t/2)/tanh(t/2)·(2t/Δ)·sech²(ts)·|tanh(ts)|."""
    s = (x - float(q.thresholds[1])) / q.delta
    return (t / 2) / math.tanh(t / 2) * (2 * t / q.delta) * np.abs(np.tanh(t * s)) / np.cosh(t * s) ** 2


@pytest.mark.parametrize("where", ["first", "second-last"])
def test_lipschitz_refines_a_maximum_between_grid_points(where):
    """|Q̂''| of the HTGE peaks at τ ± Δ·atanh(1/√3)/t; on a 5-point grid whose nearest point is 0.3 steps off the peak
    the refinement must still find L′ = (t/2)/tanh(t/2)·(2t/Δ)·2/(3√3)."""
    q = UniformQuantizer(2, 1.0)
    t = 5.5 * q.delta
    est = get_estimator({"name": "htge", "k0": 5.5})
    peak = float(q.thresholds[1]) + q.delta * math.atanh(1 / math.sqrt(3)) / t
    h = 0.05 * q.delta
    lo = peak - 0.3 * h if where == "first" else peak - 3.3 * h
    l_prime = (t / 2) / math.tanh(t / 2) * (2 * t / q.delta) * 2 / (3 * math.sqrt(3))
    assert _lipschitz(est, q, lo, lo + 4 * h, 5) == pytest.approx(l_prime, rel=1e-9)


def test_lipschitz_at_the_last_grid_point():
    """|Q̂''| rising over [τ + 0.1w*, τ + 0.9w*] (w* the peak): L′ is its value at the right end."""
    q = UniformQuantizer(2, 1.0)
    t = 5.5 * q.delta
    w_star = q.delta * math.atanh(1 / math.sqrt(3)) / t
    lo, hi = float(q.thresholds[1]) + 0.1 * w_star, float(q.thresholds[1]) + 0.9 * w_star
    got = _lipschitz(get_estimator({"name": "htge", "k0": 5.5}), q, lo, hi, 7)
    assert got == pytest.approx(float(htge_second_derivative(q, t, hi)), rel=1e-9)


@pytest.mark.parametrize("high", [False, True], ids=["curved-at-w_min", "curved-at-w_max"])
def test_edge_curvature_is_taken_inside_the_range_edge(high):
    """Bowl: Q̂'' = 2c·(x − anchor) inside, 0 beyond: L′_edge = L′ = 2c·(w_max − w_min), L− = 1,
    L+ = 1 + c·(w_max − w_min)²."""
    q = UniformQuantizer(2, 1.0)
    c = estimator_constants(Bowl(c=0.3, high=high), q)
    assert c["L_prime_edge"] == pytest.approx(2 * 0.3 * 2.0, rel=2e-9)
    assert c["L_prime"] == pytest.approx(1.2, rel=1e-4)  # the supremum, approached on the grid
    assert (c["L_minus"], c["L_plus"]) == pytest.approx((1.0, 1.0 + 0.3 * 4.0), rel=1e-12)
    assert c["convexity_coeff_edge"] == pytest.approx(1.2 * 2.2 / 2, rel=2e-9)
    assert c["cyclical"] is False and c["assumption_5_1_1"] == "holds"


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_cyclical_is_judged_inside_the_bins_relative_to_l_plus(scale):
    """Bumps equal at every threshold: a drift of 3e-8 (relative) across bins is not cyclical at any scale of Q̂'."""
    q = UniformQuantizer(3, 1.0)
    assert estimator_constants(Bumps(scale=scale), q)["cyclical"] is True
    drifting = estimator_constants(Bumps(scale=scale, drift=3e-8), q)
    assert drifting["cyclical"] is False
    assert drifting["L_plus"] == pytest.approx(1.5 * scale, rel=1e-6)


def test_a_small_jump_makes_l_prime_infinite():
    """Q̂' jumps by 1e-5 at 0.1234: finite differences grow 4-fold on the 4× grid, so L′ = ∞ (5.1.2 fails)."""
    c = estimator_constants(Jump(), UniformQuantizer(2, 1.0))
    assert math.isinf(c["L_prime"]) and c["assumption_5_1_2"] == "fails"
    assert math.isinf(c["convexity_coeff"])


def test_a_jump_on_a_smooth_slope_makes_l_prime_infinite():
    """Q̂' = 1 + 0.01 sin πx (L′ = 0.01π at 0) with a jump where the wave is flat, sized so that its slope on the
    finest grid (4n points) is 2.25·L′ and on the n-point grid below L′: still a jump, L′ = ∞."""
    n = 2001
    size = 2.25 * 0.01 * math.pi * 2.0 / (4 * n - 1)
    c = estimator_constants(Jump(size=size, at=0.50003, wave=0.01), UniformQuantizer(2, 1.0), n_grid=n)
    assert math.isinf(c["L_prime"]) and c["assumption_5_1_2"] == "fails"


def test_half_of_q_hat_second_derivative_outside_autograd_is_an_error():
    """Autograd sees max |Q̂''| = 0.3 while Q̂' changes with slope 0.6: the constant would be half of L′."""
    with pytest.raises(ValueError, match=r"half_outside_autograd: autograd gives max \|Q̂''\| = 0\.3 but Q̂' changes"):
        estimator_constants(HalfOutsideAutograd(), UniformQuantizer(2, 1.0))
