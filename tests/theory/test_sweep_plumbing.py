"""The sweeps' configuration plumbing (theory/sweeps.py): which sections reach which solver.

Each expected value is either a closed form written in ``test_sweeps.py`` (bin masses, Gaussian
constants by quadrature) or the named solver (``fixed_point``, ``solve_pde``, ``simulate``) called
here with the settings the config documents: ``config/config.yaml`` and the docstrings give the
defaults (check cases to τ_max = 400 with ``check.pde`` merged over the PDE section; the grid
L = 8, dx = 0.002 of ``PDE_DEFAULTS``; d = 500 and seeds [0] for the stability simulation; the
input map follows (b, ω) unless ``vary_input: false``). Every test uses a model for which the
setting changes the number, and says so.
"""

import numpy as np
import pytest

from stelab.theory.fixed_points import fixed_point
from stelab.theory.fokker_planck import solve_pde
from stelab.theory.model import Model
from stelab.theory.simulate import simulate
from stelab.theory.sweeps import fixed_point_table, stability_sweep

from test_sweeps import direct_eps_star, gaussian_constants, levels

Q = {"kind": "quantizer", "bits": 2, "omega": 2.0}
HTGE = {"estimator": {"name": "htge", "k0": 5.5, "outside": "periodic"}}  # a numerical stationary solve
COARSE = {"L": 6.0, "dx": 0.02, "dt": 0.5}


def test_check_cases_merge_their_pde_section_and_their_model_override():
    """Rows and checks solve on theory.pde's grid; a check case's model override and its check.pde (dt) apply."""
    model = {"weight_map": Q, "input_map": Q, "eta": 0.5, "sigma": 0.3, "surrogate": HTGE}
    cfg = {"bits": [2], "omegas": [2.0],
           "check": {"tau_max": 10, "pde": {"dt": 0.1}, "cases": {"slow": {"eta": 0.25}}}}
    table, checks = fixed_point_table({"model": model, "pde": COARSE, "experiments": {"fixed_points": cfg}})
    m = Model.from_spec(model)
    slow = Model.from_spec({**model, "eta": 0.25})
    (row,) = table.to_dict("records")
    assert row["eps_star"] == fixed_point(m, L=6.0, dx=0.02)["eps_star"]
    assert row["eps_star"] != pytest.approx(fixed_point(m)["eps_star"], rel=1e-6)  # the grid matters here
    (chk,) = checks.to_dict("records")
    assert chk["case"] == "slow" and chk["tau_max"] == 10.0
    assert chk["eps_star"] == fixed_point(slow, L=6.0, dx=0.02)["eps_star"]
    assert chk["eps_star"] != pytest.approx(row["eps_star"], rel=1e-3)  # η = 0.25, not the base 0.5
    r = solve_pde(slow, 10.0, L=6.0, dx=0.02, dt=0.1)
    assert chk["pde_final"] == float(r.eps[-1])
    assert chk["pde_final"] != pytest.approx(float(solve_pde(slow, 10.0, **COARSE).eps[-1]), rel=1e-9)  # dt
    assert len(r.tau) == 101 and r.tau[90] == pytest.approx(9.0)  # "last change": over the last tenth, τ 9 → 10
    assert chk["pde_last_change"] == abs(float(r.eps[100]) - float(r.eps[90]))
    assert chk["pde_last_change"] > 1e-6  # not converged at τ = 10: the difference is not trivially 0
    assert chk["abs_diff"] == abs(chk["eps_star"] - chk["pde_final"])


def test_check_cases_run_to_tau_400_by_default_on_the_experiment_pde_section():
    """No theory.pde, no check.tau_max: the experiment's own pde section and τ_max = 400."""
    model = {"weight_map": Q, "eta": 0.5, "sigma": 0.3}
    cfg = {"pde": COARSE, "check": {"cases": {"weight_only": {}}}}
    table, checks = fixed_point_table({"model": model, "experiments": {"fixed_points": cfg}})
    (chk,) = checks.to_dict("records")
    assert chk["tau_max"] == 400.0
    m = Model.from_spec(model)
    assert chk["pde_final"] == float(solve_pde(m, 400.0, **COARSE).eps[-1])
    assert chk["eps_star"] == pytest.approx(direct_eps_star(levels(2, 2.0), 1, 1, 1.0, 0.5, 0.3), rel=1e-3)
    assert chk["pde_final"] == pytest.approx(chk["eps_star"], abs=1e-3)
    assert list(table["sweep"]) == ["bits_omega"]


def test_vary_input_false_keeps_the_configured_input_map():
    """With vary_input: false only the weight map follows (b, ω): a, c stay those of h = Q_{2,2}."""
    model = {"weight_map": Q, "input_map": Q, "eta": 0.3, "sigma": 0.3}
    cfg = {"bits": [1, 3], "omegas": [1.5], "vary_input": False}
    table, _ = fixed_point_table({"model": model, "pde": {"L": 6.0, "dx": 0.004}, "experiments": {"fixed_points": cfg}})
    a, c = gaussian_constants(2, 2.0)
    assert (a, c) != pytest.approx(gaussian_constants(1, 1.5), rel=1e-3)  # varying the input would change them
    for row in table.to_dict("records"):
        assert (row["a"], row["c"]) == pytest.approx((a, c), rel=1e-9), row["bits"]
        expected = direct_eps_star(levels(int(row["bits"]), 1.5), a, c, 1.0, 0.3, 0.3)
        assert row["eps_star"] == pytest.approx(expected, rel=1e-6), row["bits"]


def test_sweeps_report_progress_over_every_work_item_and_only_when_asked(capsys):
    """Fixed points: b × ω + η + check cases solves (3·2 + 1 + 1 = 8); stability: 2 runs per η."""
    model = {"weight_map": Q, "eta": 0.5, "sigma": 0.3}
    cfg = {"bits": [1, 2, 3], "omegas": [1.5, 2.5], "etas": [0.1],
           "check": {"tau_max": 1, "cases": {"weight_only": {}}}}
    th = {"model": model, "pde": COARSE, "sim": {"d": 20}, "experiments": {
        "fixed_points": cfg, "stability": {"etas": [0.5, 1.0], "tau_max": 1.0}}}
    fixed_point_table(th)
    stability_sweep(th)
    assert capsys.readouterr().err == ""
    fixed_point_table(th, progress=False)
    stability_sweep(th, progress=False)
    assert capsys.readouterr().err == ""
    fixed_point_table(th, progress=True)
    assert "fixed points: 8/8 solves (100%)" in capsys.readouterr().err
    stability_sweep(th, progress=True)
    assert "stability sweep: 4/4 runs (100%)" in capsys.readouterr().err


def test_stability_sweep_defaults_d_500_seed_0_and_the_pde_defaults_grid():
    """No sim section anywhere: d = 500, seeds [0]; no L/dx: the fixed point on L = 8, dx = 0.002."""
    model = {"weight_map": Q, "input_map": Q, "eta": 0.1, "sigma": 0.3, "surrogate": HTGE}
    cfg = {"etas": [0.5], "tau_max": 1.0, "pde": {"dt": 0.25}}
    quant, _ = stability_sweep({"model": model, "experiments": {"stability": cfg}}).to_dict("records")
    mq = Model.from_spec({**model, "eta": 0.5})
    assert quant["sim_eps_mean"] == float(simulate(mq, 500, 1.0, [0], taus=[1.0]).eps[0, -1])
    assert quant["sim_eps_mean"] != float(simulate(mq, 501, 1.0, [0], taus=[1.0]).eps[0, -1])
    assert quant["eps_star"] == fixed_point(mq, L=8.0, dx=0.002)["eps_star"]
    assert quant["eps_star"] != fixed_point(mq, L=9.0, dx=0.002)["eps_star"]  # this model's ε* sees L
    assert quant["theory_eps"] == float(solve_pde(mq, 1.0, L=8.0, dx=0.002, dt=0.25).eps[-1])


def test_stability_sweep_merges_the_experiment_sim_section_over_theory_sim():
    """theory.sim gives d = 60, the experiment's sim section the seeds [1, 2]: both reach the simulation."""
    model = {"weight_map": Q, "eta": 0.1, "sigma": 0.3}
    th = {"model": model, "pde": COARSE, "sim": {"d": 60, "seeds": [7]},
          "experiments": {"stability": {"etas": [0.5], "tau_max": 2.0, "sim": {"seeds": [1, 2]}}}}
    quant, unq = stability_sweep(th).to_dict("records")
    for row, spec in ((quant, {**model, "eta": 0.5}), (unq, {"eta": 0.5, "sigma": 0.3})):
        eps = simulate(Model.from_spec(spec), 60, 2.0, [1, 2], taus=[2.0]).eps[:, -1]
        assert eps[0] != eps[1]
        assert row["sim_eps_mean"] == float(np.mean(eps)) and row["sim_eps_max"] == float(np.max(eps)), row["model"]


def test_stability_sweep_half_error_halves_every_error_column():
    model = {"weight_map": Q, "eta": 0.1, "sigma": 0.3}
    cfg = {"stability": {"etas": [0.5], "tau_max": 1.0, "sim": {"d": 40}}}
    full = stability_sweep({"model": model, "pde": COARSE, "experiments": cfg})
    half = stability_sweep({"model": {**model, "error": "half"}, "pde": COARSE, "experiments": cfg})
    for col in ("sim_eps_mean", "sim_eps_max", "theory_eps", "eps_star"):
        assert (full[col] > 0).all(), col
        np.testing.assert_array_equal(half[col], 0.5 * full[col], err_msg=col)
    for col in ("eta", "c", "eta_c", "stable_theory"):
        np.testing.assert_array_equal(half[col], full[col])


@pytest.mark.parametrize("cfg", [{}, {"etas": []}], ids=["absent", "empty"])
def test_stability_sweep_without_a_learning_rate_is_refused_by_its_key(cfg):
    """No η to sweep gives no table; the error names the key (it was a KeyError on a column)."""
    th = {"model": {"weight_map": Q, "eta": 0.1, "sigma": 0.3}, "experiments": {"stability": cfg}}
    with pytest.raises(ValueError, match=r"theory\.experiments\.stability\.etas"):
        stability_sweep(th)
