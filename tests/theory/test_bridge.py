"""Bridge to paper A (arXiv 2405.05171): Q̂-net vs STE-net with M(w₀) and lr αη in the linear model."""

import numpy as np
import pytest

from stelab.theory.bridge import bridge_setup
from stelab.theory.case_runs import run_theory
from stelab.theory.experiments import experiment_cases

THEORY = {
    "model": {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0},
              "input_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}},
    "pde": {"dx": 0.01, "dt": 0.05},
    "n_times": 20,
    "solvers": ["pde"],
    "experiments": {"bridge": {"estimator": {"name": "htge", "k0": 5.5}, "etas": [0.4, 0.05], "t_max": 2.0}},
}


def test_ste_net_uses_alpha_eta_and_the_clipped_ste_of_app_g():
    cases = experiment_cases(THEORY, "bridge")
    model, eta, init_map, wm = bridge_setup(cases["ste_eta0.4"])
    # tanh family closed form α = t²/(tanh(t/2)(t + sinh t)), t = k0·Δ/ω = 5.5·(4/3)/2
    t = 5.5 * (4 / 3) / 2
    alpha = t**2 / (np.tanh(t / 2) * (t + np.sinh(t)))
    assert eta == pytest.approx(0.4 * alpha, rel=1e-6)
    assert model.s.estimator.name == "pwl"
    w = np.array([-1.0, -0.3, 0.2, 1.1])
    assert np.array_equal(model.g(init_map(w)), model.g(w))   # M keeps every quantized value
    qmodel, qeta, qinit, _ = bridge_setup(cases["qhat_eta0.4"])
    assert qeta == 0.4 and qinit is None and qmodel.s.estimator.name == "htge"


def test_gap_between_the_nets_shrinks_as_eta_goes_to_zero():
    cases = experiment_cases(THEORY, "bridge")
    gaps = {}
    for eta in (0.4, 0.05):
        q, s = run_theory(cases[f"qhat_eta{eta:g}"]), run_theory(cases[f"ste_eta{eta:g}"])
        assert q["pde_tau"][-1] == pytest.approx(2.0 / eta)    # same clock t = ητ = 2
        gaps[eta] = np.max(np.abs(q["pde_eps"] - np.interp(q["pde_tau"], s["pde_tau"], s["pde_eps"])))
    assert gaps[0.05] < 0.5 * gaps[0.4]
