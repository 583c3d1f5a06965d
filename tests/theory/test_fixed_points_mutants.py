"""Fixed-point cases the mutation run of issue 17 found untested (``tests/mutation/run.sh theory_fixed_points``).

For the STE and a step g the stationary density is exact per cell and its two tails beyond ±L are exact
exponentials (``stelab.theory.fixed_points``'s docstring), so ε* is the whole line's for every grid whose
outer cells lie beyond the outermost thresholds, however few cells that is; the closed-form bin masses of
``test_fixed_point_cases.bin_masses`` give ε* and the mass beyond ±L: p_outer·e^{−|κ|(L − |θ|)} per side.
"""

import math

import numpy as np
import pytest
from scipy import optimize

from stelab.theory.fixed_points import Stationary, fixed_point
from stelab.theory.model import Model

from test_fixed_point_cases import bin_masses
from test_sweeps import levels

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}  # levels ±2/3, ±2, thresholds 0, ±4/3


def whole_line(eta, sigma):
    """ε* of w* = ±1 (P = ½ each, a = c = 1) and the mass beyond ±L at ε*, from the closed-form bin masses."""
    lv = levels(2, 2.0)

    def F(eps):
        return float(np.mean([bin_masses(lv, 1, 1, w, eta, sigma, eps)[0] @ (w - lv) ** 2 for w in (-1.0, 1.0)]))

    star = optimize.brentq(lambda e: F(e) - e, 1e-9, 50.0, xtol=1e-14, rtol=1e-13)

    def tail_mass(L):
        total = 0.0
        for w in (-1.0, 1.0):
            p, kappa, th = bin_masses(lv, 1, 1, w, eta, sigma, star)
            total += 0.5 * (p[0] * math.exp(-kappa[0] * (L + th[0])) + p[-1] * math.exp(kappa[-1] * (L - th[-1])))
        return total

    return star, tail_mass


def test_a_grid_with_a_single_cell_beyond_each_outer_threshold_keeps_the_whole_line_fixed_point():
    """L = 1.4, dx = 0.1: one cell on (−1.4, −4/3) and one on (4/3, 1.4); its neighbours are in the inner bins,
    where the drift of w* = +1 (left side) or −1 (right side) has the other sign. The tails hold most of the
    mass (η = 2.5, σ = 1) and follow the outer cells' drift and level, not their neighbours'."""
    m = Model.from_spec({"weight_map": Q22, "eta": 2.5, "sigma": 1.0, "teacher": {"kind": "rademacher", "value": 1.0}})
    star, tail_mass = whole_line(2.5, 1.0)
    st = Stationary(m, L=1.4, dx=0.1)
    assert st.gx[0] == -2.0 and st.gx[1] != -2.0 and st.gx[-1] == 2.0 and st.gx[-2] != 2.0
    fp = fixed_point(m, L=1.4, dx=0.1)
    assert fp["status"] == "ok" and fp["eps_star"] == pytest.approx(star, rel=1e-10)
    assert 0.5 < tail_mass(1.4) and fp["tail_mass"] == pytest.approx(tail_mass(1.4), rel=1e-10)
    assert fp["decomposition"] == pytest.approx(star, rel=1e-10) and fp["mean_g_gap"] < 1e-10


def test_fixed_point_default_grid_is_8_wide():
    """fixed_point(model) uses L = 8: ε* is the whole line's, and the tail mass is that beyond ±8."""
    m = Model.from_spec({"weight_map": Q22, "eta": 2.5, "sigma": 1.0, "teacher": {"kind": "rademacher", "value": 1.0}})
    star, tail_mass = whole_line(2.5, 1.0)
    fp = fixed_point(m)
    assert fp["eps_star"] == pytest.approx(star, rel=1e-10)
    assert fp["tail_mass"] == pytest.approx(tail_mass(8.0), rel=1e-9)
    assert abs(tail_mass(8.0) - tail_mass(9.0)) > 1e-3


def test_a_saturated_teacher_value_has_no_tail_mass():
    """w* = 2.05 just above the top level 2 (a = c = 1): no stationary state, ŵ escapes upwards, ε* = 0.05²; the
    drift is weak (large D at η = 2.5, σ = 2), so a density computed anyway would leave mass in the tails."""
    m = Model.from_spec({"weight_map": Q22, "eta": 2.5, "sigma": 2.0, "teacher": {"kind": "constant", "value": 2.05}})
    fp = fixed_point(m)
    assert fp["status"] == "saturated" and fp["eps_star"] == pytest.approx(0.05**2, rel=1e-9)
    assert fp["tail_mass"] == 0.0 and fp["saturation"] == pytest.approx(0.05**2, rel=1e-9)


class NoFixedPoint(Stationary):
    """A self-consistency map with F(ε) > ε everywhere (as for an unbounded g past its stability limit)."""

    def F(self, eps):
        return 2.0 * eps + 1.0


def test_no_root_of_the_self_consistency_is_unstable():
    out = NoFixedPoint(Model.from_spec({"weight_map": Q22, "eta": 0.5}), L=2.0, dx=0.1).solve()
    assert out == {"eps_star": math.inf, "status": "unstable"}


@pytest.mark.parametrize("d", [1e-4, 1e-8])
def test_a_tiny_fixed_point_next_to_a_level_has_no_cancellation(d):
    """σ = 0, w* = 2/3 + d (a = c = 1, next to the level 2/3): ε* = O(d). Written as w*² − 2w*E[g] + E[g²], F
    cancelled terms of order 1 down to d (F(1e-8) came out −7e-8 and ε* 20 % low); the closed-form bin
    masses with the non-negative errors (w* − g)² give it to 1e-6 here."""
    w = 2 / 3 + d
    m = Model.from_spec({"weight_map": Q22, "eta": 0.5, "sigma": 0.0, "teacher": {"kind": "constant", "value": w}})
    lv = levels(2, 2.0)

    def F(eps):
        return float(bin_masses(lv, 1, 1, w, 0.5, 0.0, eps)[0] @ (w - lv) ** 2)

    assert Stationary(m).F(d) == pytest.approx(F(d), rel=1e-6)
    star = optimize.brentq(lambda e: F(e) - e, d / 100, 100 * d, xtol=d * 1e-12, rtol=1e-12)
    assert fixed_point(m)["eps_star"] == pytest.approx(star, rel=1e-6)
