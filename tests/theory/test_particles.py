"""Particles of the limit SDE (theory/odes.py:particles) against the closed linear ODE and by construction.

For g = identity with the STE the ensemble of the limit SDE has, per teacher value w*,
E[ŵ | w*]′ = η(a w* − c E[ŵ | w*]) and ε following the closed ODE (written out and integrated in
``test_odes_exact.py``); the particle estimate differs from it by Monte Carlo error ~ ε·(2/n)^½ and an
O(η dt) Euler–Maruyama bias, which set the tolerances below.
"""

import math

import numpy as np
import pytest

from stelab.theory.model import Model
from stelab.theory.odes import particles

from test_odes_exact import linear_reference

SPEC = {"eta": 0.5, "sigma": 0.4, "teacher": {"kind": "discrete", "values": [-0.5, 1.0], "probs": [0.3, 0.7]},
        "init": {"kind": "normal", "mean": 0.5, "std": 0.5}}


def test_particles_of_the_linear_model_follow_the_closed_ode():
    taus = [0.0, 1.0, 3.0, 6.0]
    out = particles(Model.from_spec(SPEC), 6.0, taus, n=20000, dt=0.02, seed=3, snapshot_taus=[3.0])
    rho, mean_w = 0.3 * 0.25 + 0.7 * 1.0, 0.3 * -0.5 + 0.7 * 1.0
    eps, _, _ = linear_reference(1.0, 1.0, rho, mean_w, 0.4, 0.5, 0.5, 0.25, np.array(taus))
    np.testing.assert_allclose(out["tau"], taus, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out["eps"], eps, rtol=0.02)
    assert out["eps"][-1] < 0.5 * out["eps"][0]  # it moved: ε(0) = 1.0, ε(6) ≈ 0.2
    x = out["snapshots"][3.0]
    for w in (-0.5, 1.0):  # E[ŵ | w*](τ) = w* + (0.5 − w*) e^{−ητ}
        assert x[out["w_star"] == w].mean() == pytest.approx(w + (0.5 - w) * math.exp(-1.5), abs=0.01), w
    assert list(out["snapshots"]) == [3.0]


def test_particles_split_over_teacher_values_in_proportion_and_weight_them():
    """n·P* particles per value (at least one); ε at τ = 0 is the P*-weighted mean of the error terms."""
    spec = {"teacher": {"kind": "discrete", "values": [-3.0, 1.0], "probs": [0.0004, 0.9996]},
            "init": {"kind": "uniform", "low": -1.0, "high": 1.0}}
    out = particles(Model.from_spec(spec), 0.0, [0.0], n=1000, dt=0.1, seed=0, snapshot_taus=[0.0])
    assert (out["w_star"] == -3.0).sum() == 1 and (out["w_star"] == 1.0).sum() == 1000
    x, ws = out["snapshots"][0.0], out["w_star"]
    want = 0.0004 * (9 + 6 * x[ws == -3.0][0] + x[ws == -3.0][0] ** 2) + 0.9996 * np.mean((1 - x[ws == 1.0]) ** 2)
    assert out["eps"][0] == pytest.approx(want, rel=1e-12)


def test_particles_record_on_the_dt_grid_and_are_reproducible_per_seed(capsys):
    m = Model.from_spec({**SPEC, "weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}})
    a = particles(m, 1.0, [0.0, 0.333, 1.0], n=500, dt=0.01, seed=1)
    assert capsys.readouterr().err == ""
    b = particles(m, 1.0, [0.0, 0.333, 1.0], n=500, dt=0.01, seed=1, progress=True)
    assert "particles: 100/100 steps (100%)" in capsys.readouterr().err
    np.testing.assert_allclose(a["tau"], [0.0, 0.33, 1.0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a["eps"], b["eps"])
    c = particles(m, 1.0, [0.0, 0.333, 1.0], n=500, dt=0.01, seed=2)
    assert not np.array_equal(a["eps"], c["eps"])
    slow = particles(m, 1.0, [0.0, 1.0], n=5000, dt=0.01, seed=1, eta=0.05)
    fast = particles(m, 1.0, [0.0, 1.0], n=5000, dt=0.01, seed=1)
    assert slow["eps"][0] == fast["eps"][0] and fast["eps"][1] < slow["eps"][1] - 0.1  # η = 0.05 barely moves


def test_clipped_ste_particles_beyond_the_range_never_move():
    """s = 1{|ŵ| ≤ 2}: drift and noise both vanish outside, so those particles keep their initial value."""
    spec = {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}, "surrogate": "clipped", "eta": 0.5,
            "sigma": 0.3, "init": {"kind": "normal", "std": 2.0}}
    out = particles(Model.from_spec(spec), 2.0, [0.0, 2.0], n=4000, dt=0.05, seed=0, snapshot_taus=[0.0, 2.0])
    x0, x1 = out["snapshots"][0.0], out["snapshots"][2.0]
    frozen = np.abs(x0) > 2.0
    assert 0.25 < frozen.mean() < 0.4  # P(|ŵ₀| > 2) = 0.317
    np.testing.assert_array_equal(x1[frozen], x0[frozen])
    assert np.all(x1[~frozen] != x0[~frozen])


def test_particles_defaults_20000_particles_and_dt_0_01():
    out = particles(Model.from_spec(SPEC), 0.05, [0.0, 0.03, 0.05])
    assert len(out["w_star"]) == 20000 and (out["w_star"] == -0.5).sum() == 6000
    np.testing.assert_allclose(out["tau"], [0.0, 0.03, 0.05], rtol=0, atol=1e-12)
