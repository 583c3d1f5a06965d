"""The sweeps' values (theory/sweeps.py) against fixed points solved directly in the test.

For the STE with a step weight map g and teacher w*, the stationary density of the limit SDE is
exp(Φ/D) with Φ′ = η(a w* − c g(ŵ)) piecewise constant, D = ½η²c(ε + σ²): on each bin the density
is one exponential, so the bin masses are closed forms and ε* = F(ε*) is one scalar root (solved here by
``scipy.optimize.brentq`` on these closed forms, sharing no code with ``stelab.theory.fixed_points``).
The constants a = E[x h(x)], c = E[h(x)²] come from ``scipy.integrate.quad``. For the unquantized linear
model a = c = 1, ε′ = −2ηε + η²(ε + σ²), so ε(τ) = ε* + (ε(0) − ε*)e^{−(2η − η²)τ}, ε* = ησ²/(2 − η).
"""

import math

import numpy as np
import pytest
from scipy import integrate, optimize, special

from stelab.theory.sweeps import fixed_point_table, stability_sweep


def levels(bits: int, omega: float) -> np.ndarray:
    return -omega + (2 * omega / (2**bits - 1)) * np.arange(2**bits)


def gaussian_constants(bits: int | None, omega: float) -> tuple[float, float]:
    """(a, c) for the input map h = Q_{b,ω} (range layout), or the identity when ``bits`` is None."""
    if bits is None:
        return 1.0, 1.0
    lv = levels(bits, omega)
    h = lambda x: lv[int(np.argmin(np.abs(lv - x)))]  # noqa: E731
    th = (lv[:-1] + lv[1:]) / 2
    pts = [-np.inf, *th, np.inf]
    phi = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    a = sum(integrate.quad(lambda x: x * h(x) * phi(x), lo, hi)[0] for lo, hi in zip(pts[:-1], pts[1:]))
    c = sum(integrate.quad(lambda x: h(x) ** 2 * phi(x), lo, hi)[0] for lo, hi in zip(pts[:-1], pts[1:]))
    return a, c


def direct_eps_star(lv: np.ndarray, a: float, c: float, w_star: float, eta: float, sigma: float,
                    bin_masses: bool = False):
    """Self-consistent ε* of the STE stationary density for step g with levels ``lv`` (no saturation);
    with ``bin_masses`` also the stationary mass of each bin at ε*."""
    th = (lv[:-1] + lv[1:]) / 2
    err = w_star**2 - 2 * a * w_star * lv + c * lv**2

    def F(eps):
        D = 0.5 * eta**2 * c * (eps + sigma**2)
        kappa = eta * (a * w_star - c * lv) / D  # log-density slope in each bin
        assert kappa[0] > 0 > kappa[-1]
        logm = np.empty(len(lv))
        logm[0] = -math.log(kappa[0])  # ∫_{−∞}^{θ₀} e^{κ₀(u − θ₀)} du, Φ/D = 0 at θ₀
        phi = 0.0
        for j in range(1, len(lv) - 1):
            z = kappa[j] * (th[j] - th[j - 1])
            width = th[j] - th[j - 1]  # log ∫_0^width e^{κu} du = log((e^z − 1)/κ), computed without overflow
            if z > 0:
                logm[j] = phi + z + math.log(-math.expm1(-z)) - math.log(kappa[j])
            elif z < 0:
                logm[j] = phi + math.log(-math.expm1(z)) - math.log(-kappa[j])
            else:
                logm[j] = phi + math.log(width)
            phi += z
        logm[-1] = phi - math.log(-kappa[-1])
        p = np.exp(logm - special.logsumexp(logm))
        return (float(p @ err), p) if bin_masses else float(p @ err)

    if bin_masses:
        star = optimize.brentq(lambda e: F(e)[0] - e, 1e-12, 50.0, xtol=1e-14, rtol=1e-13)
        return star, F(star)[1]
    return optimize.brentq(lambda e: F(e) - e, 1e-12, 50.0, xtol=1e-14, rtol=1e-13)


def theory(model: dict, **experiments) -> dict:
    return {"model": model, "pde": {"L": 6.0, "dx": 0.004, "dt": 0.05}, "experiments": experiments}


@pytest.mark.parametrize("input_quantized", [False, True], ids=["weight-only", "weights-and-inputs"])
def test_fixed_point_table_against_direct_solutions(input_quantized):
    w_spec = {"kind": "quantizer", "bits": 2, "omega": 2.0}
    model = {"weight_map": w_spec, "eta": 0.3, "sigma": 0.3}
    if input_quantized:
        model["input_map"] = dict(w_spec)
    cfg = {"bits": [1, 2, 3], "omegas": [1.5, 2.5], "etas": [0.1, 0.5, 1.5]}
    table, checks = fixed_point_table(theory(model, fixed_points=cfg))
    assert checks.empty
    grid = table[table["sweep"] == "bits_omega"]
    assert sorted(zip(grid["bits"], grid["omega"])) == [(b, w) for b in (1, 2, 3) for w in (1.5, 2.5)]
    for row in grid.to_dict("records"):
        b, om = int(row["bits"]), float(row["omega"])
        a, c = gaussian_constants(b if input_quantized else None, om)
        assert (row["a"], row["c"]) == pytest.approx((a, c), rel=1e-9)
        expected = direct_eps_star(levels(b, om), a, c, 1.0, 0.3, 0.3)
        assert row["eps_star"] == pytest.approx(expected, rel=1e-6), (b, om)
        assert row["eps_star_0"] == pytest.approx(0.3 * 0.09 / 1.7, rel=1e-12)
        assert row["deviation"] == pytest.approx(expected - 0.3 * 0.09 / 1.7, rel=1e-6)
        assert row["eta"] == 0.3 and row["status"] == "ok"
    etas = table[table["sweep"] == "eta"]
    assert list(etas["eta"]) == [0.1, 0.5, 1.5]
    assert (etas["bits"] == 2).all() and (etas["omega"] == 2.0).all()
    a, c = gaussian_constants(2 if input_quantized else None, 2.0)
    values = []
    for row in etas.to_dict("records"):
        expected = direct_eps_star(levels(2, 2.0), a, c, 1.0, row["eta"], 0.3)
        assert row["eps_star"] == pytest.approx(expected, rel=1e-6), row["eta"]
        assert row["eps_star_0"] == pytest.approx(row["eta"] * 0.09 / (2 - row["eta"]), rel=1e-12)
        values.append(expected)
    assert len(set(np.round(values, 6))) == 3  # η matters: a sweep that ignored it would repeat one value


def test_fixed_point_table_reports_half_the_error_when_asked_and_checks_against_the_pde():
    model = {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}, "eta": 0.5, "sigma": 0.3,
             "error": "half"}
    cfg = {"bits": [2], "omegas": [2.0], "etas": [],
           "check": {"tau_max": 60, "pde": {"dx": 0.01, "dt": 0.1}, "cases": {"weight_only": {}}}}
    table, checks = fixed_point_table(theory(model, fixed_points=cfg))
    full = direct_eps_star(levels(2, 2.0), 1.0, 1.0, 1.0, 0.5, 0.3)
    (row,) = table.to_dict("records")
    assert row["eps_star"] == pytest.approx(0.5 * full, rel=1e-6)
    assert row["eps_star_0"] == pytest.approx(0.5 * 0.5 * 0.09 / 1.5, rel=1e-12)
    assert row["deviation"] == pytest.approx(0.5 * (full - 0.5 * 0.09 / 1.5), rel=1e-6)
    assert row["small_noise"] == pytest.approx(0.5 * (1 / 3), rel=1e-9)  # 1 = 2/3 + p·4/3: p(1 − p)Δ² = 1/3
    (chk,) = checks.to_dict("records")
    assert chk["case"] == "weight_only" and chk["tau_max"] == 60
    assert chk["eps_star"] == pytest.approx(full, rel=1e-6)  # the check compares unscaled ε
    assert chk["pde_final"] == pytest.approx(full, abs=2e-3)
    assert chk["abs_diff"] == pytest.approx(abs(chk["eps_star"] - chk["pde_final"]), abs=1e-15)
    assert chk["mass_drift"] < 1e-9 and chk["min_density"] > -1e-4  # CN at dt = 0.1: tiny undershoots


def test_stability_sweep_against_the_closed_linear_ode_and_direct_fixed_points():
    model = {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}, "eta": 0.1, "sigma": 0.3}
    cfg = {"etas": [0.5, 2.5], "tau_max": 3.0, "sim": {"d": 300, "seeds": [0, 1]}, "pde": {"L": 8.0, "dx": 0.01}}
    df = stability_sweep(theory(model, stability=cfg))
    assert list(zip(df["eta"], df["model"])) == [(0.5, "quantized"), (0.5, "unquantized"),
                                                 (2.5, "quantized"), (2.5, "unquantized")]
    for row in df.to_dict("records"):
        eta = row["eta"]
        assert row["c"] == pytest.approx(1.0, abs=1e-9) and row["eta_c"] == pytest.approx(eta, abs=1e-9)
        if row["model"] == "unquantized":
            star = eta * 0.09 / (2 - eta) if eta < 2 else math.inf
            eps = star + (2.0 - star) * math.exp(-(2 * eta - eta**2) * 3.0) if eta < 2 else \
                -eta**2 * 0.09 / (eta**2 - 2 * eta) + (2.0 + eta**2 * 0.09 / (eta**2 - 2 * eta)) * math.exp(
                    (eta**2 - 2 * eta) * 3.0)
            assert row["theory"] == "linear_ode"
            assert row["theory_eps"] == pytest.approx(eps, rel=1e-9)
            assert row["eps_star"] == pytest.approx(star, rel=1e-12) if eta < 2 else math.isinf(row["eps_star"])
            assert row["stable_theory"] == (eta < 2)
        else:
            assert row["theory"] == "pde" and row["stable_theory"]
            assert row["eps_star"] == pytest.approx(direct_eps_star(levels(2, 2.0), 1, 1, 1.0, eta, 0.3), rel=1e-6)
        # finite d = 300, 2 seeds: the simulation follows the theory (diverging run: on the log scale)
        if row["theory_eps"] < 10:
            assert row["sim_eps_mean"] == pytest.approx(row["theory_eps"], abs=0.15), row
        else:
            assert abs(math.log(row["sim_eps_mean"] / row["theory_eps"])) < 1.0, row
        assert row["sim_eps_max"] >= row["sim_eps_mean"]


def test_case_run_stationary_density_against_the_direct_solution():
    """The density case's τ → ∞ limit (``pde_eps_star``, ``pde_stationary``) against the closed-form bin masses."""
    from stelab.theory.case_runs import run_theory
    from stelab.theory.experiments import case_spec

    q = {"kind": "quantizer", "bits": 2, "omega": 2.0}
    cfg = theory({"weight_map": q, "input_map": q, "eta": 0.5, "sigma": 0.0},
                 density={"tau_max": 1.0, "n_times": 5, "snapshot_taus": [1.0], "solvers": ["pde"]})
    cfg["sim"] = {"d": 100, "seeds": [0]}
    th = run_theory(case_spec(cfg, "density", "main"))
    a, c = gaussian_constants(2, 2.0)
    star, masses = direct_eps_star(levels(2, 2.0), a, c, 1.0, 0.5, 0.0, bin_masses=True)
    assert float(th["pde_eps_star"]) == pytest.approx(star, rel=1e-6)
    faces = th["pde_faces"]
    cell_mass = th["pde_stationary"][0] * np.diff(faces)
    centres = 0.5 * (faces[1:] + faces[:-1])
    bins = np.searchsorted((levels(2, 2.0)[:-1] + levels(2, 2.0)[1:]) / 2, centres)
    got = np.array([cell_mass[bins == j].sum() for j in range(4)])
    np.testing.assert_allclose(got, masses, rtol=0, atol=1e-6)  # tails beyond ±L = 6 are below 1e-6 here


# --- the sweeps' plumbing: defaults, per-experiment overrides, scaling, progress -------------------------------


def test_fixed_point_table_defaults_and_experiment_overrides():
    """No bits/omegas/etas: one (b = 2, ω = 2) row and no η rows; the experiment's own model section (σ) is merged
    over theory.model."""
    base = {"weight_map": {"kind": "quantizer", "bits": 3, "omega": 1.0}, "eta": 0.4, "sigma": 0.0}
    table, checks = fixed_point_table(theory(base, fixed_points={"model": {"sigma": 0.3}}))
    assert checks.empty
    (row,) = table.to_dict("records")
    assert (row["sweep"], row["bits"], row["omega"], row["sigma"], row["eta"]) == ("bits_omega", 2, 2.0, 0.3, 0.4)
    assert row["eps_star"] == pytest.approx(direct_eps_star(levels(2, 2.0), 1, 1, 1.0, 0.4, 0.3), rel=1e-6)


def test_fixed_point_table_eta_rows_of_an_unquantized_model():
    """Linear g: ε* = ησ²/(2 − η) (a = c = 1); the η rows say bits 0 and no ω."""
    table, _ = fixed_point_table(theory({"eta": 0.1, "sigma": 0.5}, fixed_points={"bits": [], "etas": [0.2, 1.0]}))
    assert list(table["sweep"]) == ["eta", "eta"] and list(table["bits"]) == [0, 0] and table["omega"].isna().all()
    np.testing.assert_allclose(table["eps_star"], [0.2 * 0.25 / 1.8, 1.0 * 0.25 / 1.0], rtol=1e-12)


def test_fixed_point_table_half_error_scales_every_error_column():
    model = {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0},
             "input_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}, "eta": 0.5, "sigma": 0.3}
    cfg = {"bits": [2], "omegas": [1.5, 0.5], "etas": [0.3]}  # ω = 0.5 < a w*/c: a saturated row
    full, _ = fixed_point_table(theory(model, fixed_points=cfg))
    half, _ = fixed_point_table(theory({**model, "error": "half"}, fixed_points=cfg))
    assert list(full["status"]) == ["ok", "saturated", "ok"] and full["saturation"].iloc[1] > 0.1
    for col in ("eps_star", "small_noise", "eps_star_0", "deviation", "input_error", "dither", "saturation",
                "decomposition"):
        assert (full[col] > 0).any(), col
        np.testing.assert_allclose(half[col], 0.5 * full[col], rtol=1e-12, atol=0, err_msg=col)
    for col in ("a", "c", "eta", "sigma", "mean_g_gap"):
        np.testing.assert_array_equal(half[col], full[col])


def test_fixed_point_table_grid_comes_from_the_pde_section():
    """A smooth weight map (tanh, derivative surrogate) is solved on the PDE grid: theory.pde, then the
    experiment's own pde section, else L = 8, dx = 0.002."""
    from stelab.theory.fixed_points import fixed_point
    from stelab.theory.model import Model

    model = {"weight_map": {"kind": "tanh", "scale": 2.0}, "surrogate": "derivative", "eta": 0.5, "sigma": 0.3}
    m = Model.from_spec(model)
    cfg = {"bits": [], "etas": [0.5]}
    cases = [({}, {}, 8.0, 0.002), ({"L": 6.0, "dx": 0.02}, {}, 6.0, 0.02), ({"L": 6.0, "dx": 0.02}, {"dx": 0.01}, 6.0, 0.01)]
    values = []
    for top, own, L, dx in cases:
        th = {"model": model, "pde": top, "experiments": {"fixed_points": {**cfg, "pde": own}}}
        (row,) = fixed_point_table(th)[0].to_dict("records")
        assert row["eps_star"] == fixed_point(m, eta=0.5, L=L, dx=dx)["eps_star"], (top, own)
        values.append(row["eps_star"])
    assert len(set(values)) == 3  # the grid matters for this model


def test_fixed_point_table_reports_progress(capsys):
    model = {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}, "eta": 0.5}
    fixed_point_table(theory(model, fixed_points={"bits": [1, 2], "omegas": [2.0], "etas": [0.1]}), progress=True)
    err = capsys.readouterr().err
    assert "fixed points: 3/3 solves (100%)" in err


def test_stability_sweep_defaults_and_its_references(capsys):
    """Defaults d = 500, seeds [0], τ_max = 20; the sweep's numbers are exactly those of the solvers it names,
    run with the merged sim/pde sections; the unquantized model drops both quantizers and the surrogate."""
    from stelab.theory.fixed_points import fixed_point
    from stelab.theory.fokker_planck import solve_pde
    from stelab.theory.model import Model
    from stelab.theory.odes import linear_ode
    from stelab.theory.simulate import simulate

    q = {"kind": "quantizer", "bits": 2, "omega": 2.0}
    surrogate = {"estimator": {"name": "htge", "k0": 5.5, "outside": "periodic"}}  # s > 0: a stationary state exists
    base = {"weight_map": q, "input_map": q, "eta": 0.1, "sigma": 0.3, "surrogate": surrogate}
    th = {"model": {**base, "sigma": 0.0}, "pde": {"L": 6.0, "dx": 0.02, "dt": 0.1}, "sim": {"d": 50},
          "experiments": {"stability": {"etas": [0.5], "model": {"sigma": 0.3}, "sim": {"d": 500},
                                        "pde": {"dx": 0.01}}}}
    df = stability_sweep(th, progress=True)
    assert "stability sweep: 2/2 runs (100%)" in capsys.readouterr().err
    quant, unq = df.to_dict("records")
    pde = {"L": 6.0, "dx": 0.01, "dt": 0.1}
    mq = Model.from_spec({**base, "eta": 0.5})
    mu = Model.from_spec({"eta": 0.5, "sigma": 0.3})
    assert quant["sim_eps_mean"] == float(simulate(mq, 500, 20.0, [0], taus=[20.0]).eps[0, -1])
    assert unq["sim_eps_mean"] == float(simulate(mu, 500, 20.0, [0], taus=[20.0]).eps[0, -1])
    assert quant["theory_eps"] == float(solve_pde(mq, 20.0, **pde).eps[-1])
    assert unq["theory_eps"] == pytest.approx(float(linear_ode(mu, [0.0, 20.0])["eps"][-1]), rel=1e-12)
    assert quant["eps_star"] == fixed_point(mq, L=6.0, dx=0.01)["eps_star"]
    assert unq["eps_star"] == pytest.approx(0.5 * 0.09 / 1.5, rel=1e-12)
    assert quant["c"] == pytest.approx(mq.c) and quant["c"] > 1.05 and unq["c"] == pytest.approx(1.0, abs=1e-9)
    assert quant["eta_c"] == pytest.approx(0.5 * mq.c, rel=1e-12)
    assert (quant["theory"], unq["theory"]) == ("pde", "linear_ode")
