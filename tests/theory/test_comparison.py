"""Simulation-vs-theory tables: KS distance against scipy, gap rows of hand-made curves."""

import numpy as np
import pytest
from scipy import stats

from stelab.theory.comparison import gap_rows, ks_distance


def test_ks_distance_matches_scipy_for_a_fine_grid():
    samples = np.random.default_rng(3).standard_normal(2000)
    faces = np.linspace(-8.0, 8.0, 16001)
    density = np.diff(stats.norm.cdf(faces)) / np.diff(faces)     # cell averages of φ
    expected = stats.kstest(samples, "norm").statistic
    assert ks_distance(samples, faces, density) == pytest.approx(expected, abs=1e-6)


def test_gap_rows_of_curves_with_a_known_offset():
    # Two seeds at ±0.02 around θ(τ) + 0.1: the seed mean is 0.1 above the theory curve everywhere
    # on the simulation grid (which stops before the theory's last time), the std of the mean 0.02.
    tau = np.linspace(0.0, 5.0, 11)
    theory = np.exp(-tau)
    eps = np.stack([theory + 0.12, theory + 0.08])
    sim = {"tau": tau, "eps": eps, "d": np.asarray(100)}
    th = {"pde_tau": np.linspace(0.0, 6.0, 601), "pde_eps": np.exp(-np.linspace(0.0, 6.0, 601))}
    (row,) = gap_rows("curves", "c", sim, th)
    assert row["theory"] == "pde" and row["quantity"] == "eps" and row["seeds"] == 2
    assert row["max_abs_diff"] == pytest.approx(0.1, abs=2e-4)      # linear interpolation of exp on dτ = 0.01
    assert row["mean_abs_diff"] == pytest.approx(0.1, abs=2e-4)
    assert row["seed_sem"] == pytest.approx(np.std([0.12, 0.08], ddof=1) / np.sqrt(2), rel=1e-12)
