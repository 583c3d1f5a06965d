"""Plateau length: the measurement, the formula τ_p = (θ − ŵ₀)/v, rises (p < ½), quantized inputs,
finite-d SGD, the 1/η scaling of τ_p, and the non-monotone curve from a wide start."""

import numpy as np
import pytest
from scipy import stats

from stelab.theory.fixed_points import fixed_point
from stelab.theory.fokker_planck import solve_pde
from stelab.theory.model import Model
from stelab.theory.plateau import measure_plateau, predicted_plateau, target_position
from stelab.theory.simulate import simulate

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}
NARROW = {"kind": "normal", "mean": 0.0, "std": 0.1}


def midtread(omega, **extra):
    return Model.from_spec({"weight_map": {"kind": "quantizer", "bits": 2, "omega": omega, "layout": "midtread"},
                            "eta": 0.1, "init": NARROW, **extra})


def test_measure_plateau_on_a_known_step():
    tau = np.linspace(0, 100, 1001)
    eps = 1.0 - 0.6 / (1 + np.exp(-(tau - 37.0)))   # midpoint between 1 and ≈ 0.4 at τ ≈ 37
    assert measure_plateau(tau, eps) == pytest.approx(37.0, abs=0.05)
    assert measure_plateau(tau, 2 - eps) == pytest.approx(37.0, abs=0.05)   # a rise works too


def test_measure_plateau_skips_an_early_transient_above_the_plateau():
    # ε falls fast from 1.5 to a plateau at 0.6 (time constant 1/3), then drops to 0.2 at τ = 20:
    # half of the drop (ε = 0.4) is at τ = 20; the midpoint of ε(0) and ε(τ_end), 0.85, is crossed
    # at τ ≈ 0.3 during the transient.
    tau = np.linspace(0, 60, 1201)
    eps = 0.6 + 0.9 * np.exp(-3 * tau) - 0.4 / (1 + np.exp(-(tau - 20.0)))
    assert measure_plateau(tau, eps) == pytest.approx(20.0, abs=0.05)


def test_measure_plateau_ignores_noise_on_the_plateau():
    rng = np.random.default_rng(0)
    tau = np.linspace(0, 60, 601)
    eps = 1.0 - 0.6 / (1 + np.exp(-(tau - 25.0))) + 0.01 * rng.standard_normal(tau.size)
    assert measure_plateau(tau, eps) == pytest.approx(25.0, abs=0.5)


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


def test_target_in_the_lower_half_gives_a_rise():
    # ω = 3: levels −3, 0, 3, θ = 1.5; w* = 1 sits at p = 1/3 of [0, 3]. The bulk drifts at v = 0.1
    # from g = 0 (ε = 1) and, once across θ = 1.5 at τ_p = 15, dithers between 0 and 3 with
    # ε* → c p(1 − p)Δ² = 2 > 1: the plateau ends in a rise, not a drop.
    m = midtread(3.0)
    assert target_position(m) == pytest.approx(1 / 3, abs=1e-12)
    assert predicted_plateau(m)["tau_p"] == pytest.approx(15.0, rel=1e-12)
    r = solve_pde(m, 60.0, dx=0.005, dt=0.05)
    assert r.eps[0] == pytest.approx(1.0, abs=1e-6)
    assert r.eps[-1] > 1.9
    assert measure_plateau(r.tau, r.eps) == pytest.approx(15.0, rel=0.15)


def test_plateau_with_quantized_inputs_pde_and_simulation():
    # Midrise input quantizer (a = 0.96928, c = 1.09306): v = η a w* = 0.09693, θ = 0.75, so
    # τ_p = 7.738; a w*/c = 0.887 is at p = 0.59 of [0, 1.5] (a drop). PDE and d = 500 SGD
    # (2-seed mean) both end the plateau within 10 % of τ_p (measured: 7.43 and 7.28).
    m = midtread(1.5, input_map=Q22)
    tau_p = predicted_plateau(m)["tau_p"]
    assert tau_p == pytest.approx(0.75 / (0.1 * 0.9692832), rel=1e-5)
    assert target_position(m) > 0.5
    r = solve_pde(m, 30.0, dx=0.005, dt=0.05)
    assert r.eps[-1] < r.eps[0]
    assert measure_plateau(r.tau, r.eps) == pytest.approx(tau_p, rel=0.1)
    s = simulate(m, 500, 20.0, [0, 1], taus=np.linspace(0, 20, 201))
    assert measure_plateau(s.tau, s.eps.mean(axis=0)) == pytest.approx(tau_p, rel=0.1)


def test_plateau_length_scales_as_one_over_eta():
    # τ_p = (θ − ŵ₀)/(η(a w* − c L_j)): halving η doubles the plateau (formula exactly, PDE within 10 %).
    m = midtread(1.5)
    fast, slow = predicted_plateau(m, eta=0.2)["tau_p"], predicted_plateau(m, eta=0.1)["tau_p"]
    assert slow == pytest.approx(2 * fast, rel=1e-12)
    meas = [measure_plateau(r.tau, r.eps) for r in (solve_pde(m, 15.0, eta=0.2, dx=0.005, dt=0.025),
                                                    solve_pde(m, 30.0, eta=0.1, dx=0.005, dt=0.05))]
    assert meas[1] / meas[0] == pytest.approx(2.0, rel=0.1)


def test_wide_start_falls_bottoms_out_then_rises_to_the_fixed_point():
    # Density-figure setting (b = 2, ω = 2 midrise weights and inputs, η = 0.1, N(0, 1) start):
    # ε(0) = 2.1948, a minimum ≈ 0.24 near τ ≈ 16, then a rise towards ε* = 0.40830.
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22, "eta": 0.1})
    r = solve_pde(m, 100.0, dx=0.005, dt=0.05)
    i = int(np.argmin(r.eps))
    eps_star = fixed_point(m)["eps_star"]
    assert r.eps[0] == pytest.approx(2.1948, abs=1e-4)
    assert 8.0 < r.tau[i] < 30.0
    assert r.eps[i] < 0.7 * eps_star
    assert r.eps[-1] == pytest.approx(eps_star, abs=0.005)
    assert np.all(np.diff(r.eps[r.tau > 40]) > -1e-9)       # the late approach is a monotone rise


def test_midrise_start_on_a_threshold():
    # Midrise b = 2, ω = 1 weights and inputs: levels ±1/3, ±1, thresholds −2/3, 0, 2/3. ŵ₀ ~ N(0, 0.1²)
    # straddles the threshold 0, so ε(0) = 1.062 is far above the plateau (≈ 0.60, all weights in the
    # bin of 1/3): the lower half reaches that bin within τ ≈ 2. The bulk then drifts at
    # v = η(a − c/3) to θ = 2/3 and ε drops to the saturated 1 − 2a + c. Reference τ_p from a and c in
    # closed form (Gaussian bin sums, independent of the package): 13.195.
    phi, Phi = stats.norm.pdf, stats.norm.cdf
    a = 2 * (phi(0) / 3 + (2 / 3) * phi(2 / 3))
    c = 2 * ((Phi(2 / 3) - 0.5) / 9 + (1 - Phi(2 / 3)))
    tau_p = (2 / 3) / (0.1 * (a - c / 3))
    q1 = {"kind": "quantizer", "bits": 2, "omega": 1.0, "layout": "range"}
    m = Model.from_spec({"weight_map": q1, "input_map": q1, "eta": 0.1, "init": NARROW})
    assert predicted_plateau(m)["tau_p"] == pytest.approx(tau_p, rel=1e-9)
    r = solve_pde(m, 30.0, dx=0.005, dt=0.05)
    assert r.eps[0] > np.interp(8.0, r.tau, r.eps) + 0.4          # the start sits far above the plateau
    assert r.eps[-1] == pytest.approx(1 - 2 * a + c, abs=5e-3)          # saturated at the top level 1
    assert measure_plateau(r.tau, r.eps) == pytest.approx(tau_p, rel=0.05)
    s = simulate(m, 500, 30.0, [0, 1], taus=np.linspace(0, 30, 301))
    assert measure_plateau(s.tau, s.eps.mean(axis=0)) == pytest.approx(tau_p, rel=0.05)
