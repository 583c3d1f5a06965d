"""The surrogate s of the STE step against its definition, and the clipped STE against a finite-d simulation
written here (independent of ``stelab.theory.simulate``) and against its exact long-time limit.

Model: weight-only quantization, b = 2, ω = 0.5, w* = 1, μ₀ = N(0, 1), σ = 0. With the clipped STE
s = 1{|ŵ| ≤ ω} a weight that starts below −ω never moves, and every other weight drifts up at speed
η(1 − g) ≥ η/2 until it passes ω and stops, so as τ → ∞ (small η) ε → Φ(−ω)·(1 + ω)² + (1 − Φ(−ω))·(1 − ω)²;
the STE instead takes every weight to the top level.
"""

import math

import numpy as np
import pytest
import torch
from scipy import special

from stelab.theory.fokker_planck import solve_pde
from stelab.theory.maps import ElementMap
from stelab.theory.model import Model
from stelab.theory.simulate import simulate
from stelab.theory.surrogate import Surrogate

W2 = {"kind": "quantizer", "bits": 2, "omega": 0.5}


def test_each_surrogate_is_its_definition():
    g = ElementMap.from_spec(W2)
    w = np.array([-3.0, -0.5000001, -0.5, -0.2, 0.0, 0.3, 0.5, 0.5000001, 2.0])
    np.testing.assert_array_equal(Surrogate.from_spec("ste", g)(w), np.ones_like(w))
    np.testing.assert_array_equal(Surrogate.from_spec("clipped", g)(w), [0, 0, 1, 1, 1, 1, 1, 0, 0])
    tanh = ElementMap.from_spec({"kind": "tanh", "scale": 1.5})
    np.testing.assert_allclose(Surrogate.from_spec("derivative", tanh)(w), 1 / np.cosh(w / 1.5) ** 2, rtol=1e-14)
    np.testing.assert_array_equal(Surrogate.from_spec("clipped", tanh)(w), (np.abs(w) <= 1.5).astype(float))
    clip = ElementMap.from_spec({"kind": "tanh", "scale": 1.5, "clip": 0.4})
    np.testing.assert_array_equal(Surrogate.from_spec("clipped", clip)(w), (np.abs(w) <= 0.4).astype(float))
    est = Surrogate.from_spec({"estimator": {"name": "htge", "k0": 5.5}}, g)
    delta, t = 1 / 3, 5.5 / 0.5 * (1 / 3)
    cell = np.floor((w + 0.5) / delta)
    expected = (t / 2) / math.tanh(t / 2) / np.cosh(t * (w - (-0.5 + (cell + 0.5) * delta)) / delta) ** 2
    np.testing.assert_allclose(est(w), np.where(np.abs(w) <= 0.5, expected, 0.0), rtol=1e-12)
    assert est(w).dtype == np.float64


def test_surrogate_kinds_breakpoints_and_names():
    g = ElementMap.from_spec(W2)
    assert Surrogate.from_spec("ste", g).is_one and not Surrogate.from_spec("clipped", g).is_one
    assert Surrogate.from_spec({"estimator": "ste"}, g).is_one  # the STE estimator is the STE surrogate
    np.testing.assert_array_equal(Surrogate.from_spec("clipped", g).breakpoints(), [-0.5, 0.5])
    np.testing.assert_array_equal(Surrogate.from_spec({"estimator": {"name": "htge", "k0": 5.5}}, g).breakpoints(),
                                  [-0.5, 0.5])
    periodic = Surrogate.from_spec({"estimator": {"name": "htge", "k0": 5.5, "outside": "periodic"}}, g)
    assert periodic.breakpoints().size == 0 and Surrogate.from_spec("ste", g).breakpoints().size == 0
    assert periodic.describe() == "htge(k0=5.5, outside=periodic)"
    assert Surrogate.from_spec("clipped", g).describe() == "clipped"


def test_surrogate_spec_defaults_and_dtypes():
    g = ElementMap.from_spec(W2)
    with pytest.raises(ValueError, match=r"^surrogate: must be one of"):
        Surrogate.from_spec({"kind": "clipped"}, g)  # a mapping without 'estimator' is not an estimator spec
    est = Surrogate.from_spec({"estimator": {"name": "htge", "k0": 5.5}}, g)
    w32 = np.linspace(-0.6, 0.6, 7, dtype=np.float32)
    assert est(w32).dtype == np.float64  # evaluated in float64 whatever the caller's dtype
    np.testing.assert_allclose(est(w32), est(w32.astype(np.float64)), rtol=0, atol=0)


@pytest.mark.parametrize("spec, g, message", [
    ("derivative", W2, r"surrogate: 'derivative' needs a smooth weight map"),
    ({"estimator": "ste"}, {"kind": "tanh"}, r"surrogate: an estimator surrogate needs a quantizer weight map"),
    ("clip", W2, r"surrogate: must be one of \('ste', 'clipped', 'derivative'\)"),
])
def test_surrogate_spec_errors_name_the_key(spec, g, message):
    with pytest.raises(ValueError, match=message):
        Surrogate.from_spec(spec, ElementMap.from_spec(g))  # the default key
    with pytest.raises(ValueError, match=message.replace("surrogate:", "theory.model.surrogate:")):
        Surrogate.from_spec(spec, ElementMap.from_spec(g), "theory.model.surrogate")


def own_simulation(eta: float, omega: float, d: int, taus, seed: int, clipped: bool, w0=None) -> np.ndarray:
    """Online SGD of ŷ = d^{-1/2} Σ Q(ŵ_i) x_i on y = d^{-1/2} Σ x_i, with s = 1{|ŵ| ≤ ω} or 1: ε at ``taus``.
    ``w0``: the initial weights (default N(0, 1) from this seed's own stream)."""
    rng = np.random.default_rng(seed)
    delta = 2 * omega / 3
    q = lambda u: -omega + delta * np.clip(np.round((u + omega) / delta), 0, 3)  # noqa: E731
    w = rng.standard_normal(d) if w0 is None else np.array(w0, dtype=np.float64)
    out, step = [], 0
    for tau in taus:
        while step < round(tau * d):
            x = rng.standard_normal(d)
            e = (x.sum() - q(w) @ x) / math.sqrt(d)
            s = (np.abs(w) <= omega) if clipped else 1.0
            w += eta * e * s * x / math.sqrt(d)
            step += 1
        out.append(float(np.mean(1 - 2 * q(w) + q(w) ** 2)))  # w* = 1, a = c = 1
    return np.array(out)


@pytest.fixture(scope="module")
def clipped_runs():
    taus = [2.0, 5.0, 12.0]
    eta, d = 0.3, 1500
    own = np.mean([own_simulation(eta, 0.5, d, taus, seed, clipped=True) for seed in (11, 12)], axis=0)
    own_ste = own_simulation(eta, 0.5, d, taus, 13, clipped=False)
    spec = {"weight_map": W2, "eta": eta, "surrogate": "clipped"}
    pde = solve_pde(Model.from_spec(spec), taus[-1], L=5.0, dx=0.005, dt=0.02)
    pde_ste = solve_pde(Model.from_spec({**spec, "surrogate": "ste"}), taus[-1], L=5.0, dx=0.005, dt=0.02)
    at = [int(round(t / 0.02)) for t in taus]
    sim = simulate(Model.from_spec(spec), 1000, taus[-1], [0, 1], taus=taus)
    # the same initial weights as ``simulate`` (its second stream of SeedSequence(seed), documented there), its
    # own inputs: the frozen fraction, the largest finite-d fluctuation here, is then shared
    w0 = [np.random.default_rng(np.random.SeedSequence(k).spawn(4)[1]).standard_normal(1000) for k in (0, 1)]
    own_same_init = np.mean([own_simulation(eta, 0.5, 1000, taus, 20 + k, True, w0[k]) for k in (0, 1)], axis=0)
    return {"taus": taus, "own": own, "own_ste": own_ste, "pde": pde.eps[at], "pde_ste": pde_ste.eps[at],
            "sim": sim.eps.mean(axis=0)[1:], "own_same_init": own_same_init}


def test_clipped_pde_follows_an_independent_finite_d_simulation(clipped_runs):
    r = clipped_runs
    # finite d: the fraction frozen below −ω fluctuates by √(p(1 − p)/d), ε by twice that (sd ≈ 0.02 here)
    np.testing.assert_allclose(r["pde"], r["own"], rtol=0, atol=0.06)
    np.testing.assert_allclose(r["pde_ste"], r["own_ste"], rtol=0, atol=0.06)
    assert np.all(r["pde"][1:] - r["pde_ste"][1:] > 0.3)  # the surrogate matters: frozen weights keep ε up


def test_clipped_simulation_follows_the_independent_one(clipped_runs):
    np.testing.assert_allclose(clipped_runs["sim"], clipped_runs["own_same_init"], rtol=0, atol=0.03)


def test_clipped_ste_long_time_limit():
    """Weights below −ω are frozen at g = −ω, all others end at g = ω: ε(∞) = 0.25 + 2Φ(−0.5) at ω = 0.5
    (small η: diffusion ∝ η² lets a fraction O(√η) of the weights near −ω escape downwards)."""
    limit = special.ndtr(-0.5) * 1.5**2 + (1 - special.ndtr(-0.5)) * 0.5**2
    assert limit == pytest.approx(0.25 + 2 * special.ndtr(-0.5), rel=1e-14)
    r = solve_pde(Model.from_spec({"weight_map": W2, "eta": 0.02, "surrogate": "clipped"}), 150.0, L=5.0, dx=0.005,
                  dt=0.25)
    assert r.eps[-1] == pytest.approx(limit, abs=0.01)
    # the frozen mass below −ω is the initial one: none of it moves
    x = 0.5 * (r.faces[1:] + r.faces[:-1])
    h = np.diff(r.faces)
    frozen = x < -0.5 - 0.05
    assert float(np.sum((r.final[0] * h)[frozen])) == pytest.approx(special.ndtr(-0.55), abs=2e-3)
