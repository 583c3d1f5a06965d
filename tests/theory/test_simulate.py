"""Finite-d simulator: determinism, stream independence, agreement with the PDE."""

import numpy as np
import pytest

from stelab.theory.fokker_planck import solve_pde
from stelab.theory.model import Model
from stelab.theory.simulate import simulate

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}
MODEL = {"weight_map": Q22, "input_map": Q22, "eta": 0.1}


def test_bit_identical_per_seed_whatever_runs_beside_it():
    m = Model.from_spec(MODEL)
    both = simulate(m, 100, 2.0, [3, 7], taus=[0, 1, 2], snapshot_taus=[2.0], block=64)
    alone = simulate(m, 100, 2.0, [7], taus=[0, 1, 2], snapshot_taus=[2.0], block=17)
    np.testing.assert_array_equal(both.eps[1], alone.eps[0])
    np.testing.assert_array_equal(both.snapshots[2.0][1], alone.snapshots[2.0][0])


def test_initial_weights_do_not_depend_on_the_data_stream_length():
    m = Model.from_spec(MODEL)
    a = simulate(m, 50, 0.0, [1], snapshot_taus=[0.0])
    b = simulate(m, 50, 1.0, [1], snapshot_taus=[0.0])
    np.testing.assert_array_equal(a.snapshots[0.0], b.snapshots[0.0])


def test_error_is_exact_formula_of_the_weights():
    m = Model.from_spec(MODEL)
    r = simulate(m, 300, 1.0, [0], taus=[1.0], snapshot_taus=[1.0])
    w = r.snapshots[1.0][0]
    g = m.g(w)
    expected = np.mean(1.0 - 2 * m.a * g + m.c * g**2)
    assert r.eps[0, -1] == pytest.approx(expected, rel=1e-12)


def test_simulation_matches_pde_at_modest_d():
    m = Model.from_spec(MODEL)
    taus = np.array([0.0, 2.0, 4.0, 6.0, 8.0, 10.0])
    sim = simulate(m, 500, 10.0, [0, 1, 2, 3], taus=taus)
    pde = solve_pde(m, 10.0, dx=0.005, dt=0.02)
    mean = sim.eps.mean(axis=0)
    sem = sim.eps.std(axis=0, ddof=1) / 2.0
    gap = np.abs(mean - np.interp(sim.tau, pde.tau, pde.eps))
    # finite-size noise: per-seed ε fluctuates by O(d^{-1/2}) (about 0.03 at d = 500); allow 4 standard
    # errors of the 4-seed mean plus an O(1/d) bias of 0.01
    assert np.all(gap <= 4 * np.maximum(sem, 0.005) + 0.01), (gap, sem)


def test_progress_reports_every_step_without_changing_the_run(capsys):
    # In a log (stderr is not a terminal under pytest) the reporter prints a line per tenth of the
    # steps, the last one at 100 %; the numbers are those of a silent run.
    m = Model.from_spec(MODEL)
    quiet = simulate(m, 50, 2.0, [0, 1], taus=[0.0, 1.0, 2.0], block=7)
    capsys.readouterr()
    loud = simulate(m, 50, 2.0, [0, 1], taus=[0.0, 1.0, 2.0], block=7, progress=True)
    lines = capsys.readouterr().err.strip().splitlines()
    np.testing.assert_array_equal(quiet.eps, loud.eps)
    assert lines[-1].startswith("simulate d=50, 2 seed(s): 100/100 steps (100%)")
    assert 5 <= len(lines) <= 11
