"""The equivalence module (stelab/equivalence.py) at its edges: range ends, M⁻¹'s Newton steps and dtypes, the
STE-net estimator's defaults, α where it is undefined, and estimator_constants' verdicts and keys.

Expected values come from paper A's definitions: M fixes the thresholds and, for a Q̂' symmetric about the level,
maps the range ends [w_min, w_max] onto themselves; the HTGE's Q̂'' at the range end (a level, phase ½ of the cell)
is (t²/Δ)·sech²(t/2) with t = kΔ = 2k0/3 at 2 bits; assumption 5.1.1 "holds" when Q̂' > 0 up to two cells beyond
the range, "range only (App. G)" when it vanishes there.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

from stelab.equivalence import WeightMap, estimator_constants
from stelab.estimators import get_estimator
from stelab.estimators.base import Estimator
from stelab.quantizers import UniformQuantizer

HTGE = {"name": "htge", "k0": 5.5}


@pytest.mark.parametrize("bits", [2, 3, 4])
def test_m_maps_the_range_ends_onto_themselves_for_every_range(bits):
    """Each layer has its own m; for ~9 % of them the level w_max rounded past the range, Q̂'(w_max) = 0, and a sliver
    quadrature panel at the support end made M(w_max) = inf (the STE-net's clipped estimator then failed)."""
    for m in np.linspace(0.05, 2.0, 120):
        q = UniformQuantizer(bits, float(m))
        wm = WeightMap(get_estimator(HTGE), q)
        ends = torch.tensor(q.representable_range, dtype=torch.float64)
        np.testing.assert_allclose(wm(ends), ends, rtol=1e-9, atol=0, err_msg=f"m={m}")
        ste = wm.ste_estimator("sgd")
        assert (ste.lo, ste.hi) == pytest.approx(q.representable_range, rel=1e-9), m


@pytest.mark.parametrize("spec", [HTGE, {"name": "user_estimators:raised_cosine", "depth": 0.6}, "mad",
                                  {"name": "dsq", "alpha_dsq": 0.11}], ids=["htge", "raised_cosine", "mad", "dsq"])
def test_inverse_converges_in_a_few_newton_steps(spec):
    wm = WeightMap(get_estimator(spec), UniformQuantizer(2, 1.0))
    w = torch.linspace(-2.4, 2.4, 97, dtype=torch.float64)
    np.testing.assert_allclose(wm.inverse(wm(w), max_iter=6), w, rtol=0, atol=1e-10)


def test_inverse_widens_its_bracket_far_out_and_keeps_dtypes():
    """MAD: Q̂' = s/|x| beyond s = 1, so M(w) = 1 + (w² − 1)/2 moves far weights by more than Δ = 2/3."""
    wm = WeightMap(get_estimator("mad"), UniformQuantizer(2, 1.0))
    w = torch.tensor([3.0, 4.0, 5.0, -4.0, -6.0], dtype=torch.float64)
    y = wm(w)
    np.testing.assert_allclose(y, torch.sign(w) * (1 + (w**2 - 1) / 2), rtol=1e-12)
    assert bool(((y - w).abs() > 2 / 3).all())
    np.testing.assert_allclose(wm.inverse(y), w, rtol=0, atol=1e-10)
    y32 = torch.tensor([0.1, 0.5, 2.5], dtype=torch.float32)
    x32 = wm.inverse(y32)
    assert x32.dtype == torch.float32
    np.testing.assert_allclose(x32.double(), wm.inverse(y32.double()), rtol=1e-6)
    assert wm.inverse(torch.tensor([0, 1])).dtype == torch.float64
    assert wm(torch.tensor([0, 1])).dtype == torch.float64


def test_ste_net_estimator_defaults_to_sgd_with_float64_ends():
    q = UniformQuantizer(2, 0.7)  # ±0.7 is not a float32 number
    wm = WeightMap(get_estimator(HTGE), q)
    sgd, adam = wm.ste_estimator(), wm.ste_estimator("adam")
    assert sgd.describe() == wm.ste_estimator("sgd").describe()
    assert (sgd.lo, sgd.hi) == pytest.approx((-0.7, 0.7), rel=1e-12) and (adam.lo, adam.hi) == (-0.7, 0.7)
    assert wm.learning_rate_factor() == wm.alpha and wm.learning_rate_factor("adam") == 1.0
    assert 0.6 < wm.alpha < 0.62


def test_alpha_is_undefined_where_qhat_prime_vanishes_inside_an_inner_bin():
    with pytest.raises(ValueError) as err:
        WeightMap(get_estimator({"name": "pwl", "lo": -0.1, "hi": 0.1}), UniformQuantizer(2, 1.0))
    assert str(err.value) == ("estimator pwl(lo=-0.1, hi=0.1): 1/Q̂' is not integrable over an inner bin "
                              "(Q̂' vanishes there), so α and M are undefined")


@pytest.mark.parametrize("beyond,verdict", [((2.5, 2.5), "holds"), ((1.5, 2.5), "range only (App. G)"),
                                            ((2.5, 1.5), "range only (App. G)")])
def test_assumption_5_1_1_looks_two_cells_beyond_each_end(beyond, verdict):
    """PWL on [w_min − b₋Δ, w_max + b₊Δ]: Q̂' = 1 up to b cells beyond each end of the range [−1, 1]."""
    q = UniformQuantizer(2, 1.0)
    d = q.delta
    est = get_estimator({"name": "pwl", "lo": -1 - beyond[0] * d, "hi": 1 + beyond[1] * d})
    c = estimator_constants(est, q)
    assert c["assumption_5_1_1"] == verdict
    assert (c["L_minus"], c["L_plus"], c["alpha"]) == (1.0, 1.0, 1.0) and c["cyclical"] is True


def test_constants_name_the_estimator_its_ste_net_and_the_edge_curvature():
    q = UniformQuantizer(2, 1.0)
    c = estimator_constants(get_estimator(HTGE), q)
    t = 5.5 * 2 / 3
    assert c["estimator"] == "htge(k0=5.5, outside=zero)" and c["cyclical"] is True
    assert c["ste_net_estimator_sgd"] == WeightMap(get_estimator(HTGE), q).ste_estimator("sgd").describe()
    assert c["ste_net_estimator_sgd"].startswith("pwl(lo=-1.0")
    assert c["L_prime_edge"] == pytest.approx(t * t / q.delta / math.cosh(t / 2) ** 2, rel=1e-6)
    assert c["L_prime"] > c["L_prime_edge"]  # the maximum of |Q̂''| lies inside the cell, not at the level
    assert estimator_constants(get_estimator(HTGE), UniformQuantizer(1, 1.0))["cyclical"] is True  # one threshold
    assert estimator_constants(get_estimator("sigmoid_sum"), q)["cyclical"] is False  # the end sigmoids differ


def triangle_m(w, tau0, delta, depth):
    """M for the triangle wave in closed form: M(w) = τ_0 + Δ·I(u)/I(1), u = (w − τ_0)/Δ, I(u) = ∫_0^u dφ/Q̂'(φ),
    Q̂' = a + 2·depth·φ on [0, ½] and a + 2·depth·(1 − φ) on [½, 1], a = 1 − depth."""
    a = 1.0 - depth
    period = math.log((a + depth) / a) / depth
    u = (w - tau0) / delta
    cells = np.floor(u)
    f = u - cells
    first = np.log((a + 2 * depth * np.minimum(f, 0.5)) / a) / (2 * depth)
    second = np.where(f > 0.5, np.log((a + depth) / (a + 2 * depth * (1 - np.maximum(f, 0.5)))) / (2 * depth), 0.0)
    return tau0 + delta * (cells * period + first + second) / period


@pytest.mark.parametrize("bits", [2, 3])
def test_m_of_an_estimator_with_real_kinks_in_closed_form(bits):
    """Q̂' with kinks at every level and threshold: the quadrature panels must end on them (inner periods and the outer
    bins alike) for M to be exact; α = depth/ln(1/(1 − depth))."""
    q = UniformQuantizer(bits, 1.0)
    wm = WeightMap(get_estimator({"name": "user_estimators:triangle_wave", "depth": 0.5}), q)
    assert wm.alpha == pytest.approx(0.5 / math.log(2.0), rel=1e-13)
    w = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
    want = triangle_m(w.numpy(), float(q.thresholds[0]), q.delta, 0.5)
    np.testing.assert_allclose(wm(w).numpy(), want, rtol=0, atol=1e-12)
    ends = torch.tensor([float(q.thresholds[0]) + q.delta, float(q.levels[-1])], dtype=torch.float64)
    np.testing.assert_allclose(wm(ends).numpy(), triangle_m(ends.numpy(), float(q.thresholds[0]), q.delta, 0.5),
                               rtol=0, atol=1e-12)  # a period's end and a level exactly on a kink


def test_m_of_mad_with_a_kink_off_the_half_cell_grid():
    """MAD with s = 1.1 (inner bins inside s: α = 1): M(w) = w for |w| ≤ s, sign(w)·(s + (w² − s²)/(2s)) beyond; the
    kink at ±1.1 lies between the half-cell panel ends (levels ±1, thresholds ±2/3, ±4/3...) and must split a panel."""
    wm = WeightMap(get_estimator({"name": "mad", "s": 1.1}), UniformQuantizer(2, 1.0))
    assert wm.alpha == 1.0
    w = torch.linspace(-3.0, 3.0, 601, dtype=torch.float64)
    a = w.abs()
    want = torch.where(a <= 1.1, w, torch.sign(w) * (1.1 + (a**2 - 1.1**2) / 2.2))
    np.testing.assert_allclose(wm(w), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("batch", [[1.5], [-2.0, -1.0, 1.0, 2.0], [1.5, 4.5], [-6.0, 1.5, 6.0]])
def test_m_of_mad_beyond_the_range_but_inside_its_clip_is_the_identity_in_any_batch(batch):
    """MAD with s = 5 on Q(2, 1): Q̂' = 1 on |w| ≤ 5 (so α = 1 and M(w) = w there) and s/|w| beyond, so
    M(w) = sign(w)·(5 + (w² − 25)/10) for |w| > 5. Its kinks at ±5 lie beyond the far end of the outer panels
    for |w| < 4.5 or so; listed there, they made the panels run backwards (M(1.5) = −1.33 alone, 1.5 beside 4.5)."""
    wm = WeightMap(get_estimator({"name": "mad", "s": 5.0}), UniformQuantizer(2, 1.0))
    assert wm.alpha == pytest.approx(1.0, rel=1e-12)
    w = np.array(batch)
    a = np.abs(w)
    want = np.sign(w) * np.where(a <= 5.0, a, 5.0 + (a * a - 25.0) / 10.0)
    np.testing.assert_allclose(wm(torch.tensor(batch, dtype=torch.float64)).numpy(), want, rtol=1e-10, atol=1e-12)


@dataclass(frozen=True)
class OpenBelow(Estimator):
    """Q̂' = 1 up to x = 1.5, 0 beyond: its support (−∞, 1.5] is bounded on one side only."""

    name: str = field(default="open_below", init=False)

    def grad(self, x, q):
        return (x <= 1.5).to(x.dtype)

    def support(self, q):
        return -math.inf, 1.5

    def kinks(self, q):
        return (1.5,)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_ste_net_of_a_support_bounded_on_one_side_is_refused_by_name(optimizer):
    """App. G's STE-net clips to [M(w_min), M(w_max)] (SGD) or [w_min, w_max] (Adam): both ends finite, or no clip
    for a support that is the whole line; one finite end has no clipped STE (it raised OverflowError or a PWL error)."""
    wm = WeightMap(OpenBelow(), UniformQuantizer(2, 1.0))
    with pytest.raises(ValueError, match=r"^open_below: Q̂' vanishes on one side only \(support \[-inf, 1.5\]\)"):
        wm.ste_estimator(optimizer)
