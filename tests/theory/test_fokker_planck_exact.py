"""The Fokker–Planck solver (theory/fokker_planck.py) against closed forms and its documented numerics.

References written here: the one-bit quantizer's stationary density (a two-sided exponential per
teacher value, ε* = ω² − 1 = 3, see ``test_fixed_points.py``), the unquantized ε(τ) in closed form
(Crank–Nicolson second order in dt, backward Euler first order), B(z) = z/(eᶻ − 1) from ``math``, the
grid's faces from its definition, and the clipped STE's frozen weights (s = 0 beyond ±ω: far cells
never change).
"""

import math
import warnings

import numpy as np
import pytest

from stelab.theory.fixed_points import Stationary, fixed_point
from stelab.theory.fokker_planck import FokkerPlanck, _bernoulli, make_grid, solve_pde
from stelab.theory.model import Model

from test_sweeps import gaussian_constants

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}
ONE_BIT = {"kind": "quantizer", "bits": 1, "omega": 2.0}


def one_bit_eps_star(w_star, a, c):
    """ε* = w*² − 2a w* E[g] + c E[g²] with E[g] = a w*/c (STE stationarity) and g² = 4."""
    return w_star**2 - 2 * a * a * w_star**2 / c + 4 * c


def two_sided_exponential(faces, eta, w_star, a=1.0, c=1.0, sigma=0.0):
    """Cell averages of μ*(ŵ | w*) for one bit (levels ±2, θ = 0): slopes η(a w* ± 2c)/D, D = ½η²c(ε* + σ²)."""
    D = 0.5 * eta**2 * c * (one_bit_eps_star(w_star, a, c) + sigma**2)
    kl, kr = eta * (a * w_star + 2 * c) / D, eta * (2 * c - a * w_star) / D  # μ* ∝ e^{kl x} (x < 0), e^{−kr x}
    lo, hi = faces[:-1], faces[1:]
    mass = np.where(hi <= 0, (np.exp(kl * hi) - np.exp(kl * lo)) / kl, (np.exp(-kr * lo) - np.exp(-kr * hi)) / kr)
    return mass / (1 / kl + 1 / kr) / (hi - lo)


@pytest.mark.parametrize("inputs", ["identity", "quantized"])
def test_one_bit_pde_settles_on_the_two_sided_exponential_for_each_teacher_value(inputs):
    """ε* = ω² − 1 = 3 with identity inputs; 4c + 1 − 2a²/c with 2-bit inputs (σ = 0.3 there)."""
    spec = {"weight_map": ONE_BIT, "eta": 0.5, "teacher": {"kind": "rademacher", "value": 1.0}}
    a, c, sigma = 1.0, 1.0, 0.0
    if inputs == "quantized":
        spec.update(input_map=Q22, sigma=0.3)
        (a, c), sigma = gaussian_constants(2, 2.0), 0.3
    r = solve_pde(Model.from_spec(spec), 60.0, L=8.0, dx=0.01, dt=0.05)
    assert r.eps[-1] == pytest.approx(one_bit_eps_star(1.0, a, c), abs=5e-4)
    assert abs(r.eps[-1] - r.eps[-100]) < 1e-6
    h = np.diff(r.faces)
    for row, w in enumerate((-1.0, 1.0)):
        exact = two_sided_exponential(r.faces, 0.5, w, a, c, sigma)
        np.testing.assert_allclose(r.final[row], exact, rtol=0, atol=5e-4 * exact.max(), err_msg=str(w))
        assert float(r.final[row] @ h) == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(r.final[0], r.final[1][::-1], rtol=1e-9, atol=1e-12)  # w* = −1 mirrors w* = 1
    assert r.mass_drift < 1e-10 and r.min_density >= 0.0


def closed_form_unquantized(tau, eta, sigma, eps0):
    rate = 2 * eta - eta**2
    fix = eta**2 * sigma**2 / rate
    return fix + (eps0 - fix) * np.exp(-rate * tau)


def test_crank_nicolson_is_second_order_and_backward_euler_first_order_in_dt():
    m = Model.from_spec({"eta": 0.5, "sigma": 0.3})
    err = {}
    for theta in (0.5, 1.0):
        for dt in (0.2, 0.1, 0.05):
            r = solve_pde(m, 4.0, L=8.0, dx=0.005, dt=dt, theta=theta)
            np.testing.assert_allclose(r.tau, np.arange(len(r.tau)) * dt, rtol=0, atol=1e-12)
            assert r.tau[-1] == pytest.approx(4.0)
            err[theta, dt] = np.max(np.abs(r.eps - closed_form_unquantized(r.tau, 0.5, 0.3, 2.0)))
    assert err[0.5, 0.05] < 3e-3 and err[1.0, 0.05] > 1e-2
    for coarse, fine in ((0.2, 0.1), (0.1, 0.05)):
        assert err[0.5, coarse] / err[0.5, fine] > 3.0  # → 4
        assert 1.6 < err[1.0, coarse] / err[1.0, fine] < 2.2  # → 2


def test_rannacher_start_up_keeps_a_discontinuous_start_non_negative():
    m = Model.from_spec({"weight_map": Q22, "eta": 0.1, "init": {"kind": "uniform", "low": -1.0, "high": 1.0}})
    plain = solve_pde(m, 5.0, L=6.0, dx=0.01, dt=0.5, startup_steps=0)
    damped = solve_pde(m, 5.0, L=6.0, dx=0.01, dt=0.5)  # startup_steps = 4 by default
    assert plain.min_density < -1e-2 and damped.min_density > -1e-8
    assert damped.mass_drift < 1e-12


def test_a_smooth_surrogate_settles_on_the_zero_flux_density():
    """HTGE surrogate (s > 0 everywhere): μ* ∝ s⁻² exp(Φ/D) of ``Stationary``, to O(dx²)."""
    spec = {"weight_map": Q22, "eta": 0.5, "sigma": 0.3,
            "surrogate": {"estimator": {"name": "htge", "k0": 5.5, "outside": "periodic"}}}
    m = Model.from_spec(spec)
    r = solve_pde(m, 60.0, L=6.0, dx=0.01, dt=0.05)
    star = fixed_point(m, L=6.0, dx=0.01)["eps_star"]
    assert r.eps[-1] == pytest.approx(star, abs=5e-4)
    d = Stationary(m, L=6.0, dx=0.01).density(star, 0)
    np.testing.assert_allclose(r.final[0], d, rtol=0, atol=3e-3 * d.max())
    assert r.eps[-1] != pytest.approx(solve_pde(Model.from_spec({**spec, "surrogate": "ste"}), 60.0, L=6.0,
                                                dx=0.01, dt=0.05).eps[-1], abs=1e-2)  # the surrogate matters


def test_clipped_ste_freezes_weights_beyond_the_range():
    """s = 0 beyond ±2: cells not touching the edge keep their density; diffusion pushes mass into the edge cells."""
    spec = {"weight_map": Q22, "eta": 0.3, "surrogate": "clipped", "init": {"kind": "normal", "std": 2.0}}
    r = solve_pde(Model.from_spec(spec), 20.0, L=6.0, dx=0.01, dt=0.05, snapshot_taus=[0.0, 20.0])
    c, h = r.centres, np.diff(r.faces)
    assert np.any(np.isclose(r.faces, 2.0, atol=1e-12)) and np.any(np.isclose(r.faces, -2.0, atol=1e-12))
    far = np.abs(c) > 2.0 + h.max()
    np.testing.assert_array_equal(r.snapshots[20.0][0][far], r.snapshots[0.0][0][far])
    outside = np.abs(c) > 2.0
    before, after = (float(r.snapshots[t][0][outside] @ h[outside]) for t in (0.0, 20.0))
    tail2, tail6 = math.erfc(1 / math.sqrt(2)), math.erfc(3 / math.sqrt(2))  # P(|ŵ₀| > 2), P(|ŵ₀| > 6), ŵ₀ ~ N(0, 4)
    assert before == pytest.approx((tail2 - tail6) / (1 - tail6), rel=1e-9)  # μ₀ renormalised on [−6, 6]
    assert after > before + 0.1
    assert float(r.snapshots[20.0][0] @ h) == pytest.approx(1.0, abs=1e-12)


def test_bernoulli_function():
    z = np.array([-800.0, -30.0, -1.0, -1e-9, 0.0, 1e-9, 0.5, 30.0, 800.0])
    want = [800.0, -30 / math.expm1(-30), -1 / math.expm1(-1), 1 + 5e-10, 1.0, 1 - 5e-10, 0.5 / math.expm1(0.5),
            30 / math.expm1(30), 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow-safe: e^{800} overflows without a warning
        np.testing.assert_allclose(_bernoulli(z), want, rtol=1e-12, atol=1e-300)


def test_grid_faces_breakpoints_and_errors():
    g = make_grid(2.0, 0.3, [-5.0, -0.5, 0.25, 2.0])
    assert g.faces[0] == -2.0 and g.faces[-1] == 2.0
    assert np.isclose(g.faces, -0.5).sum() == 1 and np.isclose(g.faces, 0.25).sum() == 1
    # segments [−2, −0.5], [−0.5, 0.25], [0.25, 2]: 5, 3 and 6 equal cells of width ≤ 0.3
    np.testing.assert_allclose(g.widths, [0.3] * 5 + [0.25] * 3 + [1.75 / 6] * 6, rtol=1e-12)
    assert g.n == 14 and len(g.centres) == 14
    np.testing.assert_allclose(g.centres, 0.5 * (g.faces[1:] + g.faces[:-1]), rtol=0, atol=0)
    assert make_grid(1.05, 0.3).n == 7  # 2.1/0.3 = 7.000000000000001 in floats: seven cells, no sliver
    for L, dx in ((0.0, 0.1), (1.0, 0.0), (-1.0, 0.1)):
        with pytest.raises(ValueError, match=f"pde: need L > 0 and dx > 0, got L={L}, dx={dx}"):
            make_grid(L, dx)


@pytest.mark.parametrize("opts,message", [
    ({"dt": 0.0}, r"need dt > 0 and 0.5 <= theta <= 1, got dt=0.0, theta=0.5"),
    ({"theta": 0.4}, r"got dt=0.01, theta=0.4"),
    ({"theta": 1.1}, r"got dt=0.01, theta=1.1"),
    ({"dx": 0.1, "grid": 3}, r"theory.pde: unknown keys \['grid'\]; allowed \['L', 'dt', 'dx', 'startup_steps', 'theta'\]"),
])
def test_solver_options_are_checked(opts, message):
    with pytest.raises(ValueError, match=message):
        solve_pde(Model.from_spec({"weight_map": Q22}), 0.1, **opts)


def test_start_density_eta_override_snapshots_and_npz():
    spec = {"weight_map": Q22, "input_map": Q22, "eta": 0.2, "sigma": 0.1,
            "teacher": {"kind": "discrete", "values": [0.5, 1.5], "probs": [0.25, 0.75]}}
    m = Model.from_spec(spec)
    r = solve_pde(m, 1.0, L=5.0, dx=0.05, dt=0.1, snapshot_taus=[0.0, 0.5])
    assert r.eps[0] == pytest.approx(m.initial_error(), abs=1e-4)  # cell averages of N(0, 1)
    np.testing.assert_array_equal(r.teacher_values, [0.5, 1.5])
    np.testing.assert_array_equal(r.teacher_probs, [0.25, 0.75])
    assert sorted(r.snapshots) == [0.0, 0.5] and r.snapshots[0.5].shape == (2, len(r.faces) - 1)
    np.testing.assert_array_equal(r.final, solve_pde(m, 1.0, L=5.0, dx=0.05, dt=0.1).final)
    np.testing.assert_array_equal(r.snapshots[0.5], solve_pde(m, 0.5, L=5.0, dx=0.05, dt=0.1).final)
    other = solve_pde(m, 1.0, eta=0.6, L=5.0, dx=0.05, dt=0.1)
    np.testing.assert_array_equal(other.eps, solve_pde(Model.from_spec({**spec, "eta": 0.6}), 1.0, L=5.0, dx=0.05,
                                                       dt=0.1).eps)
    # μ₀ concentrated in the cell around ŵ = 0.68 (0 < ŵ < 4/3: g = 2/3): ε(0) = E[w*²] − 2a E[w*]·2/3 + c·4/9
    mu0 = np.zeros((2, len(r.faces) - 1))
    cell = int(np.searchsorted(r.faces, 0.68)) - 1
    mu0[:, cell] = 1.0 / (r.faces[cell + 1] - r.faces[cell])
    start = solve_pde(m, 0.2, L=5.0, dx=0.05, dt=0.1, mu0=mu0)
    rho, mean_w = 0.25 * 0.25 + 0.75 * 2.25, 0.25 * 0.5 + 0.75 * 1.5
    assert start.eps[0] == pytest.approx(rho - 2 * m.a * mean_w * 2 / 3 + m.c * 4 / 9, rel=1e-12)
    np.testing.assert_array_equal(r.to_npz_dict()["eps"], r.eps)  # error_scale 1 by default
    npz = r.to_npz_dict(error_scale=0.5)
    np.testing.assert_array_equal(npz["eps"], 0.5 * r.eps)
    np.testing.assert_array_equal(npz["snapshot_taus"], [0.0, 0.5])
    np.testing.assert_array_equal(npz["snapshot_1"], r.snapshots[0.5])
    assert set(npz) == {"tau", "eps", "faces", "teacher_values", "teacher_probs", "mass_drift", "min_density",
                        "snapshot_taus", "snapshot_0", "snapshot_1"}
    np.testing.assert_array_equal(npz["snapshot_0"], r.snapshots[0.0])
    assert npz["mass_drift"] == r.mass_drift and npz["min_density"] == r.min_density


@pytest.mark.parametrize("surrogate", ["clipped", {"estimator": {"name": "htge", "k0": 5.5}}])
def test_face_rates_are_the_documented_fluxes(surrogate):
    """J = α μ_i − β μ_{i+1}: Scharfetter–Gummel inside (P = h A_f/(D s²)_f, α = D s_i² B(−P)/h, β = D s_{i+1}² B(P)/h),
    upwind with cell-centred drift where s jumps or vanishes (α = A_i⁺ + D s_i²/h, β = A_{i+1}⁻ + D s_{i+1}²/h);
    h = distance between the two centres, A = η s (a w* − c g), D = ½η²c(ε + σ²)."""
    spec = {"weight_map": Q22, "input_map": Q22, "surrogate": surrogate, "eta": 0.3, "sigma": 0.2,
            "teacher": {"kind": "rademacher", "value": 3.0}}
    m = Model.from_spec(spec)
    a, c = gaussian_constants(2, 2.0)
    fp = FokkerPlanck(m, L=4.0, dx=0.05)
    x = fp.grid.centres
    s = m.s(x)
    D = 0.5 * 0.09 * c * (1.5 + 0.04)
    alpha, beta = fp.face_rates(1.5)
    jumps = {-2.0, 2.0}
    seen_upwind = 0
    for row, w in enumerate((-3.0, 3.0)):
        A = 0.3 * s * (a * w - c * m.g(x))
        for i in range(len(x) - 1):
            h = x[i + 1] - x[i]
            face = fp.grid.faces[i + 1]
            if any(abs(face - j) < 1e-12 for j in jumps) or s[i] <= 0 or s[i + 1] <= 0:
                want = (max(A[i], 0) + D * s[i] ** 2 / h, max(-A[i + 1], 0) + D * s[i + 1] ** 2 / h)
                seen_upwind += 1
            else:
                P = h * (A[i] + A[i + 1]) / 2 / (D * (s[i] ** 2 + s[i + 1] ** 2) / 2)
                B = lambda z: 1.0 if z == 0 else z / math.expm1(z)  # noqa: E731
                want = (D * s[i] ** 2 * B(-P) / h, D * s[i + 1] ** 2 * B(P) / h)
            assert (alpha[row, i], beta[row, i]) == pytest.approx(want, rel=1e-9, abs=1e-300), (w, face)
    assert seen_upwind >= 4  # the edges ±2 for both teacher values, outward drift at one of them


def test_fokker_planck_defaults_to_the_pde_defaults_grid():
    fp = FokkerPlanck(Model.from_spec({"weight_map": Q22, "eta": 0.2}))
    assert fp.grid.faces[0] == -8.0 and fp.grid.faces[-1] == 8.0
    assert np.diff(fp.grid.faces).max() <= 0.002 + 1e-12 and fp.grid.n >= 8000
    assert fp.eta == 0.2 and FokkerPlanck(Model.from_spec({"weight_map": Q22}), eta=0.7).eta == 0.7


def test_run_defaults_are_the_pde_defaults_and_integer_starts_are_floats(capsys):
    """FokkerPlanck.run: dt = 0.01, θ = ½, 4 start-up half steps, quiet; solve_pde quiet by default;
    μ₀ given as integers is integrated as floats; start-up steps count backward-Euler half steps in pairs."""
    m = Model.from_spec({"weight_map": Q22, "eta": 0.3, "sigma": 0.2})
    fp = FokkerPlanck(m, L=4.0, dx=0.05)
    r = fp.run(0.5)
    np.testing.assert_allclose(r.tau, np.arange(51) * 0.01, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(r.eps, fp.run(0.5, dt=0.01, theta=0.5, startup_steps=4).eps)
    assert not np.array_equal(r.eps, fp.run(0.5, theta=1.0).eps)
    assert not np.array_equal(r.eps, fp.run(0.5, startup_steps=6).eps)
    np.testing.assert_array_equal(fp.run(0.5, startup_steps=3).eps, fp.run(0.5, startup_steps=2).eps)
    solve_pde(m, 0.1, L=4.0, dx=0.05)
    assert capsys.readouterr().err == ""
    flat = FokkerPlanck(Model.from_spec({"eta": 0.3}), L=0.5, dx=0.05)  # 20 cells of width 0.05 on [−0.5, 0.5]
    ints = flat.run(0.3, dt=0.1, mu0=np.ones((1, 20), dtype=np.int64))
    floats = flat.run(0.3, dt=0.1, mu0=np.ones((1, 20)))
    np.testing.assert_array_equal(ints.final, floats.final)
    assert ints.final.dtype == np.float64 and not np.allclose(ints.final, 1.0)


def test_grid_keeps_short_segments_as_one_cell_and_accepts_small_ranges():
    g = make_grid(1.0, 0.5, [0.9])  # segments [−1, 0.9] (4 cells of 0.475) and [0.9, 1] (one cell)
    np.testing.assert_allclose(g.widths, [0.475] * 4 + [0.1], rtol=1e-12)
    small = make_grid(0.5, 0.1)
    assert small.n == 10 and small.faces[0] == -0.5 and small.faces[-1] == 0.5
