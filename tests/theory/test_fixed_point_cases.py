"""Fixed points (theory/fixed_points.py) in the cases the module docstring singles out, by closed forms.

A saturated teacher value contributes w*² − 2a w* L_sat + c L_sat² with L_sat the level it runs to; the
others have the STE's piecewise-exponential stationary density (bin masses in closed form, as in
``test_sweeps.py``), whose outer bins are exponentials: the mass beyond ±L is p_outer·e^{−|κ|(L − |θ|)}.
Linear g: ε* = (2ρ(1 − a²/c) + ηcσ²)/(2 − ηc), unstable (ε* = ∞) when ηc ≥ 2.
"""

import math

import numpy as np
import pytest
from scipy import optimize, special

from stelab.theory.fixed_points import (Stationary, fixed_point, linear_fixed_point, linear_stable, small_noise,
                                        unquantized_fixed_point)
from stelab.theory.model import Model

from test_sweeps import gaussian_constants, levels

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}


def bin_masses(lv, a, c, w, eta, sigma, eps):
    """Stationary bin masses and log-density slopes κ of the STE with step g (levels ``lv``) at ε."""
    th = (lv[:-1] + lv[1:]) / 2
    D = 0.5 * eta**2 * c * (eps + sigma**2)
    kappa = eta * (a * w - c * lv) / D
    logm = np.empty(len(lv))
    logm[0] = -math.log(kappa[0])
    phi = 0.0
    for j in range(1, len(lv) - 1):
        z = kappa[j] * (th[j] - th[j - 1])
        width = th[j] - th[j - 1]
        if abs(z) < 1e-12:  # no drift in this bin: a flat density
            logm[j] = phi + math.log(width)
        else:
            logm[j] = phi + (z + math.log(-math.expm1(-z)) if z > 0 else math.log(-math.expm1(z))) - math.log(abs(kappa[j]))
        phi += z
    logm[-1] = phi - math.log(-kappa[-1])
    return np.exp(logm - special.logsumexp(logm)), kappa, th


def test_a_teacher_with_a_saturated_and_a_stationary_value():
    """w* ∈ {5, 0.2}, P = ½ each, b = 2, ω = 2, a = c = 1: w* = 5 runs to the level 2 (error 9 = saturation term
    (2 − 5)²); w* = 0.2 has a stationary density whose self-consistent mixture gives ε*."""
    spec = {"weight_map": Q22, "eta": 0.5, "sigma": 0.3,
            "teacher": {"kind": "discrete", "values": [5.0, 0.2], "probs": [0.5, 0.5]}}
    lv = levels(2, 2.0)
    err = 0.04 - 0.4 * lv + lv**2

    def F(eps):
        return 0.5 * 9.0 + 0.5 * float(bin_masses(lv, 1, 1, 0.2, 0.5, 0.3, eps)[0] @ err)

    star = optimize.brentq(lambda e: F(e) - e, 1e-9, 50.0, xtol=1e-14, rtol=1e-13)
    fp = fixed_point(Model.from_spec(spec), L=8.0)
    assert fp["status"] == "saturated"
    assert fp["eps_star"] == pytest.approx(star, rel=1e-6)
    assert fp["saturation"] == pytest.approx(4.5, rel=1e-9)
    assert fp["decomposition"] == pytest.approx(fp["eps_star"], rel=1e-9)
    assert fp["dither"] == pytest.approx(star - 4.5, rel=1e-5)
    assert fp["small_noise"] == pytest.approx(4.5 + 0.5 * 0.65 * 0.35 * 16 / 9, rel=1e-12)  # p = (0.2 + 2/3)/(4/3)
    assert fp["mean_g_gap"] < 1e-9  # over the stationary value only: E[g | 0.2] = 0.2
    p, kappa, th = bin_masses(lv, 1, 1, 0.2, 0.5, 0.3, star)
    tails = 0.5 * (p[0] * math.exp(-kappa[0] * (8.0 + th[0])) + p[-1] * math.exp(kappa[-1] * (8.0 - th[-1])))
    assert tails > 1e-7 and fp["tail_mass"] == pytest.approx(tails, rel=1e-4)


@pytest.mark.parametrize("inputs", ["identity", "quantized"])
def test_a_rademacher_teacher_saturates_on_both_sides(inputs):
    """ω = 0.5 < a|w*|/c: w* = ±1 run to ±0.5, each with error 1 − 2a·0.5 + c·0.25 (0.25 for a = c = 1)."""
    spec = {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 0.5}, "eta": 0.1,
            "teacher": {"kind": "rademacher", "value": 1.0}}
    a, c = 1.0, 1.0
    if inputs == "quantized":
        spec["input_map"] = Q22
        a, c = gaussian_constants(2, 2.0)
    m = Model.from_spec(spec)
    fp = fixed_point(m)
    want = 1 - a + 0.25 * c
    assert fp["status"] == "saturated" and fp["eps_star"] == pytest.approx(want, abs=1e-12)
    assert fp["saturation"] == pytest.approx(want - (1 - a * a / c), abs=1e-12)  # c(L − a w*/c)²
    assert fp["dither"] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(fp["mean_g_gap"]) and fp["tail_mass"] == 0.0  # no stationary value at all
    assert small_noise(m) == pytest.approx(want, abs=1e-12)


def test_small_noise_form_with_quantized_inputs():
    """a w*/c = L_k + pΔ ⇒ ε* ≈ ρ(1 − a²/c) + c p(1 − p)Δ² (w* = 1.5, levels ±2/3, ±2, Δ = 4/3)."""
    a, c = gaussian_constants(2, 2.0)
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22, "eta": 0.01,
                         "teacher": {"kind": "constant", "value": 1.5}})
    p = (1.5 * a / c - 2 / 3) / (4 / 3)
    assert 0 < p < 1
    want = 2.25 * (1 - a * a / c) + c * p * (1 - p) * 16 / 9
    assert small_noise(m) == pytest.approx(want, rel=1e-12)
    assert fixed_point(m)["eps_star"] == pytest.approx(want, rel=2e-3)  # η = 0.01: the small-noise limit


def test_a_teacher_on_a_level_has_a_flat_stationary_bin():
    """w* = 2/3 = a level (a = c = 1): no drift on (0, 4/3), the density is flat there; ε* from the bin masses."""
    lv = levels(2, 2.0)
    m = Model.from_spec({"weight_map": Q22, "eta": 0.5, "sigma": 0.3,
                         "teacher": {"kind": "constant", "value": float(lv[2])}})
    err = (lv[2] - lv) ** 2

    def F(eps):
        return float(bin_masses(lv, 1, 1, lv[2], 0.5, 0.3, eps)[0] @ err)

    star = optimize.brentq(lambda e: F(e) - e, 1e-9, 50.0, xtol=1e-14, rtol=1e-13)
    fp = fixed_point(m)
    assert fp["status"] == "ok" and fp["eps_star"] == pytest.approx(star, rel=1e-6)
    assert fp["small_noise"] == pytest.approx(0.0, abs=1e-12)  # p = 0: no dither in the small-noise limit


def test_other_surrogates_have_no_ste_stationarity_no_tails_and_no_small_noise_form():
    spec = {"weight_map": Q22, "eta": 0.5, "sigma": 0.3,
            "surrogate": {"estimator": {"name": "htge", "k0": 5.5, "outside": "periodic"}}}
    fp = fixed_point(Model.from_spec(spec))
    assert fp["status"] == "ok" and 0.2 < fp["eps_star"] < 0.3
    assert math.isnan(fp["mean_g_gap"]) and fp["tail_mass"] == 0.0 and "small_noise" not in fp
    assert fp["decomposition"] < fp["eps_star"] - 0.01  # E[g | w*] ≠ a w*/c: the decomposition misses that bias
    with pytest.raises(ValueError, match="^theory: the small-noise closed form needs a quantizer weight map$"):
        small_noise(Model.from_spec({"weight_map": {"kind": "tanh"}}))
    with pytest.raises(ValueError, match=r"^theory: a stationary density needs s > 0 on the whole grid "):
        Stationary(Model.from_spec({"weight_map": Q22, "surrogate": "clipped"}))


def test_linear_weights_with_quantized_inputs():
    a, c = gaussian_constants(2, 2.0)
    m = Model.from_spec({"input_map": Q22, "eta": 0.5, "sigma": 0.3, "teacher": {"kind": "constant", "value": 1.5}})
    closed = lambda eta: (2 * 2.25 * (1 - a * a / c) + eta * c * 0.09) / (2 - eta * c)  # noqa: E731
    fp = fixed_point(m)
    assert fp["status"] == "ok" and fp["eps_star"] == pytest.approx(closed(0.5), rel=1e-9)
    assert fp["input_error"] == pytest.approx(2.25 * (1 - a * a / c), rel=1e-9)
    assert fp["eps_star_0"] == pytest.approx(0.5 * 0.09 / 1.5, rel=1e-12)
    assert fp["deviation"] == pytest.approx(closed(0.5) - 0.03, rel=1e-9)
    assert linear_fixed_point(m) == pytest.approx(closed(0.5), rel=1e-9) and linear_stable(m)
    other = fixed_point(m, eta=1.2)
    assert other["eta"] == 1.2 and other["eps_star"] == pytest.approx(closed(1.2), rel=1e-9)
    unstable = fixed_point(m, eta=1.9)  # ηc = 2.08 ≥ 2
    assert unstable["status"] == "unstable" and math.isinf(unstable["eps_star"]) and math.isinf(unstable["deviation"])
    assert not linear_stable(Model.from_spec({"input_map": Q22, "eta": 1.9}))


def test_stability_boundary_eta_c_equal_to_two_is_unstable():
    m = Model.from_spec({"sigma": 0.3})
    eta = 2 / m.c
    assert eta * m.c == 2.0  # exactly on the boundary
    assert not linear_stable(m, eta) and math.isinf(linear_fixed_point(m, eta))
    assert math.isinf(unquantized_fixed_point(2.0, 0.3))
    assert unquantized_fixed_point(1.5, 0.3) == pytest.approx(1.5 * 0.09 / 0.5, rel=1e-12)


def test_without_noise_a_teacher_on_a_level_or_at_the_top_level_has_zero_error():
    """σ = 0: w* = 2/3 settles in its own bin; w* = ±2 = a w*/c on the outer levels saturates (the drift vanishes on
    the whole outer bin, so no density is stationary there) with error w*² − 2a w*·w* + c w*² = 0. ε* = 0 comes back
    as the root finder's lower end 1e-12."""
    lv = Model.from_spec({"weight_map": Q22}).g.levels
    on_level = fixed_point(Model.from_spec({"weight_map": Q22, "eta": 0.5,
                                            "teacher": {"kind": "constant", "value": float(lv[2])}}))
    assert on_level["status"] == "ok" and on_level["eps_star"] == 1e-12
    for level in (lv[0], lv[-1]):
        at_edge = fixed_point(Model.from_spec({"weight_map": Q22, "eta": 0.5,
                                               "teacher": {"kind": "constant", "value": float(level)}}))
        assert at_edge["status"] == "saturated" and at_edge["eps_star"] == 1e-12 and at_edge["dither"] == 0.0


def test_a_grid_ending_on_the_outer_thresholds_is_a_reflecting_box():
    """L = 4/3 = the outer thresholds: no exact tails (the drift beyond ±L is not the edge cells'), the density lives on
    [−4/3, 4/3]: e^{κ₁(u + L)} on (−L, 0) and its continuation e^{κ₁L + κ₂u} on (0, L), κ_j = η(1 − g_j)/D."""
    m = Model.from_spec({"weight_map": Q22, "eta": 2.5, "sigma": 1.0})
    L = float(np.max(np.abs(m.g.thresholds)))

    def F(eps):
        D = 0.5 * 2.5**2 * (eps + 1.0)
        k1, k2 = 2.5 * (1 + 2 / 3) / D, 2.5 * (1 - 2 / 3) / D
        m1, m2 = math.expm1(k1 * L) / k1, math.exp(k1 * L) * math.expm1(k2 * L) / k2
        return (m1 * (5 / 3) ** 2 + m2 * (1 / 3) ** 2) / (m1 + m2)

    star = optimize.brentq(lambda e: F(e) - e, 1e-9, 50.0, xtol=1e-14, rtol=1e-13)
    fp = fixed_point(m, L=L, dx=0.001)
    assert fp["eps_star"] == pytest.approx(star, rel=1e-5) and fp["tail_mass"] == 0.0
    assert fixed_point(m, L=L + 0.5, dx=0.001)["eps_star"] > star + 0.1  # a wider grid (with tails) differs


def test_stationary_grid_defaults_and_message():
    st = Stationary(Model.from_spec({"weight_map": Q22, "eta": 0.2}))
    assert st.grid.faces[0] == -8.0 and st.grid.faces[-1] == 8.0 and np.diff(st.grid.faces).max() <= 0.002 + 1e-12
    assert st.eta == 0.2 and Stationary(Model.from_spec({"weight_map": Q22}), eta=0.7).eta == 0.7
    with pytest.raises(ValueError) as err:
        Stationary(Model.from_spec({"weight_map": Q22, "surrogate": "clipped"}))
    assert str(err.value) == ("theory: a stationary density needs s > 0 on the whole grid "
                              "(clipped or compactly supported surrogates trap weights outside)")
