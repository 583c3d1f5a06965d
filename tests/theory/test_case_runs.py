"""Running one case: the density case carries the stationary density μ* beside its snapshots."""

import numpy as np
import pytest

from stelab.theory.case_runs import run_simulation, run_theory
from stelab.theory.comparison import gap_rows
from stelab.theory.experiments import case_spec
from stelab.theory.fixed_points import fixed_point
from stelab.theory.model import Model

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}


def test_density_experiment_carries_the_stationary_density():
    # The density case stores μ* beside its snapshots; after τ = 60 at η = 0.5 the PDE has relaxed
    # onto it, and the gap table gets a KS row of the last simulated snapshot against μ*.
    theory = {"model": {"weight_map": Q22, "input_map": Q22, "eta": 0.5, "sigma": 0.0},
              "pde": {"L": 6.0, "dx": 0.01, "dt": 0.05}, "sim": {"d": 300, "seeds": [0, 1]},
              "experiments": {"density": {"tau_max": 60, "n_times": 20, "snapshot_taus": [60], "solvers": ["pde"]}}}
    case = case_spec(theory, "density", "main")
    th = run_theory(case)
    h = np.diff(th["pde_faces"])
    mu_star = th["pde_stationary"][0]
    assert np.sum(mu_star * h) == pytest.approx(1.0, abs=1e-12)
    assert float(th["pde_eps_star"]) == pytest.approx(fixed_point(Model.from_spec(case["model"]), L=6.0,
                                                                  dx=0.01)["eps_star"], abs=1e-12)
    assert np.sum(np.abs(th["pde_snapshot_0"][0] - mu_star) * h) < 0.01      # L¹ distance at τ = 60
    rows = gap_rows("density", "main", run_simulation(case), th)
    ks = [r["ks"] for r in rows if r["theory"] == "stationary"]
    assert len(ks) == 1 and ks[0] < 0.1                                       # d = 300, 2 seeds: 600 samples
