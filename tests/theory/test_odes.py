"""Closed linear ODE, Gaussian closure, small-η transport limit and particles, against exact
solutions and the Fokker–Planck PDE."""

import numpy as np
import pytest

from stelab.theory.fokker_planck import solve_pde
from stelab.theory.model import Model
from stelab.theory.odes import gaussian_closure, linear_ode, particles, transport_limit

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}


def exact_unquantized(tau, eta, sigma, eps0):
    """Solution of ε′ = −2ηε + η²(ε + σ²) (independent of the package)."""
    r = 2 * eta - eta**2
    fix = eta**2 * sigma**2 / r
    return fix + (eps0 - fix) * np.exp(-r * tau)


@pytest.mark.parametrize("eta,sigma", [(0.5, 0.3), (1.2, 0.0), (0.1, 1.0)])
def test_unquantized_pde_and_ode_match_exact_solution(eta, sigma):
    m = Model.from_spec({"eta": eta, "sigma": sigma, "init": {"kind": "normal", "mean": 0.0, "std": 1.0}})
    eps0 = 2.0  # ρ + E[ŵ²] with w* = 1, ŵ₀ ~ N(0, 1)
    tau_max = 8.0
    pde = solve_pde(m, tau_max, dx=0.004, dt=0.01)
    ex = exact_unquantized(pde.tau, eta, sigma, eps0)
    assert np.max(np.abs(pde.eps - ex)) < 1e-3
    taus = np.linspace(0, tau_max, 33)
    assert np.max(np.abs(linear_ode(m, taus)["eps"] - exact_unquantized(taus, eta, sigma, eps0))) < 1e-3
    assert np.max(np.abs(gaussian_closure(m, taus)["eps"] - exact_unquantized(taus, eta, sigma, eps0))) < 1e-3


def test_transport_limit_matches_pde_for_small_eta():
    # small η but a grid that still resolves the boundary layers D/|A| = ηcε/(2|aw* − cL|) ≈ 0.01
    eta = 0.02
    m = Model.from_spec({"weight_map": Q22, "eta": eta})
    t = np.array([0.0, 0.5, 1.0, 2.0, 4.0])
    tr = transport_limit(m, t / eta, n_particles=2000, dt=5e-3)
    pde = solve_pde(m, 4.0 / eta, dx=0.002, dt=0.5)
    pe = np.interp(t / eta, pde.tau, pde.eps)
    assert np.max(np.abs(tr["eps"] - pe)) < 0.03  # the PDE keeps O(η) diffusion the transport limit drops


def test_particles_track_pde():
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22, "eta": 0.1})
    taus = [0.0, 2.5, 5.0, 10.0]
    p = particles(m, 10.0, taus, n=5000, dt=0.05, seed=1)
    pde = solve_pde(m, 10.0, dx=0.005, dt=0.05)
    # Monte Carlo error of ε over 5·10³ particles is ≈ std(error terms)/√n ≈ 0.02
    assert np.max(np.abs(p["eps"] - np.interp(taus, pde.tau, pde.eps))) < 0.06
