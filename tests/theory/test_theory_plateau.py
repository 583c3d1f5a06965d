"""Plateau length: measurement definition and the formula τ_p = (θ − ŵ₀)/v (spec B §5)."""

import numpy as np
import pytest

from stelab.theory.fokker_planck import solve_pde
from stelab.theory.model import Model
from stelab.theory.plateau import measure_plateau, predicted_plateau, target_position


def test_measure_plateau_on_a_known_step():
    tau = np.linspace(0, 100, 1001)
    eps = 1.0 - 0.6 / (1 + np.exp(-(tau - 37.0)))   # midpoint between 1 and ≈ 0.4 at τ ≈ 37
    assert measure_plateau(tau, eps) == pytest.approx(37.0, abs=0.05)
    assert measure_plateau(tau, 2 - eps) == pytest.approx(37.0, abs=0.05)   # a rise works too


def test_formula_weight_only_omega_1_5():
    # levels ±0.5, ±1.5, thresholds −1, 0, 1; ŵ₀ = 0 in the bin of 0.5; v = η(1 − 0.5); θ = 1
    m = Model.from_spec({"weight_map": {"kind": "quantizer", "bits": 2, "omega": 1.5}, "eta": 0.1,
                         "init": {"kind": "normal", "mean": 0.0, "std": 0.1}})
    p = predicted_plateau(m)
    assert p["tau_p"] == pytest.approx(1.0 / 0.05, rel=1e-12)
    assert target_position(m) == pytest.approx(0.5, abs=1e-12)


def test_formula_midtread_start_inside_a_bin():
    # midtread b = 2: levels −ω, 0, ω; ŵ₀ = 0 in the zero bin, v = η a w* = 0.1, θ = ω/2 ⇒ τ_p = 5ω
    m = Model.from_spec({"weight_map": {"kind": "quantizer", "bits": 2, "omega": 1.5, "layout": "midtread"},
                         "eta": 0.1, "init": {"kind": "normal", "mean": 0.0, "std": 0.1}})
    assert predicted_plateau(m)["tau_p"] == pytest.approx(7.5, rel=1e-12)
    assert target_position(m) == pytest.approx(1 / 1.5, abs=1e-12)   # p > ½: the error drops


@pytest.mark.parametrize("omega", [1.2, 1.8])
def test_pde_plateau_close_to_formula(omega):
    m = Model.from_spec({"weight_map": {"kind": "quantizer", "bits": 2, "omega": omega, "layout": "midtread"},
                         "eta": 0.1, "init": {"kind": "normal", "mean": 0.0, "std": 0.1}})
    tau_p = predicted_plateau(m)["tau_p"]
    r = solve_pde(m, 4 * tau_p, dx=0.005, dt=0.05)
    assert r.eps[-1] < r.eps[0]
    assert measure_plateau(r.tau, r.eps) == pytest.approx(tau_p, rel=0.15)
