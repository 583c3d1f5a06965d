"""Fixed points, decomposition, small-noise form, saturation, stability (spec B §5)."""

import math

import pytest

from stelab.theory.fixed_points import (fixed_point, linear_fixed_point, linear_stable, small_noise,
                                        unquantized_fixed_point)
from stelab.theory.fokker_planck import solve_pde
from stelab.theory.model import Model

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}


@pytest.mark.parametrize("eta,sigma", [(0.1, 0.5), (1.0, 0.3), (1.9, 1.0)])
def test_unquantized_fixed_point_formula(eta, sigma):
    m = Model.from_spec({"eta": eta, "sigma": sigma})
    assert fixed_point(m)["eps_star"] == pytest.approx(eta * sigma**2 / (2 - eta), rel=1e-12)
    assert unquantized_fixed_point(eta, sigma) == pytest.approx(eta * sigma**2 / (2 - eta), rel=1e-12)


def test_unquantized_pde_reaches_fixed_point():
    eta, sigma = 0.5, 0.4
    m = Model.from_spec({"eta": eta, "sigma": sigma})
    r = solve_pde(m, 40.0, dx=0.004, dt=0.02)
    assert r.eps[-1] == pytest.approx(eta * sigma**2 / (2 - eta), abs=1e-4)


def test_linear_stability_threshold():
    m = Model.from_spec({"input_map": Q22, "eta": 1.0})
    assert linear_stable(m, 1.8) and not linear_stable(m, 1.9)  # c = 1.09306: η c < 2 ⇔ η < 1.8297
    assert math.isinf(linear_fixed_point(m, 1.9))


@pytest.mark.parametrize("spec", [
    {"weight_map": Q22, "input_map": Q22, "eta": 0.3},          # quantized weights and inputs
    {"weight_map": Q22, "eta": 0.3},                              # weight-only
    {"weight_map": Q22, "input_map": Q22, "eta": 0.3, "sigma": 0.5},
])
def test_self_consistent_fixed_point_matches_long_pde(spec):
    m = Model.from_spec(spec)
    fp = fixed_point(m)
    r = solve_pde(m, 120.0, dx=0.005, dt=0.05)
    assert abs(r.eps[-1] - r.eps[-200]) < 1e-5          # the PDE has settled
    assert abs(fp["eps_star"] - r.eps[-1]) < 1e-3
    assert fp["decomposition"] == pytest.approx(fp["eps_star"], abs=1e-9)
    assert fp["mean_g_gap"] < 1e-9                        # STE stationarity: E[g | w*] = a w*/c


def test_small_noise_closed_form_weight_only():
    # a = c = 1, w* = 1, levels ±2/3, ±2: 1 = 2/3 + p·4/3 ⇒ p = 1/4, ε* ≈ c p(1−p)Δ² = 3/16·16/9 = 1/3
    m = Model.from_spec({"weight_map": Q22, "eta": 0.01})
    assert small_noise(m) == pytest.approx(1 / 3, abs=1e-12)
    assert fixed_point(m)["eps_star"] == pytest.approx(1 / 3, abs=1e-4)


def test_saturation():
    # ω = 0.5: a w*/c = 1 > max level 0.5 ⇒ no stationary state, ε* = 1 − 2·0.5 + 0.25
    m = Model.from_spec({"weight_map": {"kind": "quantizer", "bits": 2, "omega": 0.5}, "eta": 0.1})
    fp = fixed_point(m)
    assert fp["status"] == "saturated"
    assert fp["eps_star"] == pytest.approx(0.25, abs=1e-12)
    assert small_noise(m) == pytest.approx(0.25, abs=1e-12)
