"""Fokker–Planck limit: mass, positivity, thresholds on cell faces, exact ε(0)."""

import numpy as np
import pytest

from stelab.theory.fokker_planck import make_grid, solve_pde
from stelab.theory.model import Model

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}


@pytest.mark.parametrize("surrogate", ["ste", "clipped", {"estimator": {"name": "htge", "k0": 5.5}}])
def test_pde_conserves_mass_and_positivity(surrogate):
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22, "eta": 0.1, "surrogate": surrogate})
    r = solve_pde(m, 30.0, dx=0.005, dt=0.02, snapshot_taus=[30.0])
    assert r.mass_drift < 1e-10
    assert r.min_density >= -1e-14
    mu = r.snapshots[30.0][0]
    assert abs(np.sum(mu * np.diff(r.faces)) - 1.0) < 1e-10


def test_grid_puts_thresholds_on_faces():
    g = make_grid(8.0, 0.01, [-4 / 3, 0.0, 4 / 3, 2.0])
    for t in (-4 / 3, 0.0, 4 / 3, 2.0):
        assert np.min(np.abs(g.faces - t)) < 1e-14
    assert np.all(np.diff(g.faces) <= 0.01 + 1e-12)


def test_pde_initial_error_matches_exact_formula():
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22, "eta": 0.1})
    r = solve_pde(m, 0.1, dx=0.01, dt=0.05)
    assert r.eps[0] == pytest.approx(2.1947748, abs=1e-6)


def test_progress_reports_the_time_steps(capsys):
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22, "eta": 0.1})
    quiet = solve_pde(m, 1.0, dx=0.02, dt=0.05)
    capsys.readouterr()
    loud = solve_pde(m, 1.0, dx=0.02, dt=0.05, progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    np.testing.assert_array_equal(quiet.eps, loud.eps)
    assert lines[-1].startswith("pde: 20/20 steps (100%)")
