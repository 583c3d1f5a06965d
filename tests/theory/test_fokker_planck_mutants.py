"""Fokker–Planck cases the mutation run of issue 17 found untested (``tests/mutation/run.sh theory_fokker_planck``).

From ``stelab.theory.fokker_planck``'s docstring (paper B, arXiv 2510.10693; this workflow's numerics): faces
where s vanishes take the upwind flux with cell-centred drift plus the Itô diffusion flux; every later
Crank–Nicolson step extrapolates ε to the half step from the two previous values, the first one has only ε₀.
The unquantized model (g = identity, STE, a = c = 1) has ε′ = −2ηε + η²(ε + σ²) in closed form.
"""

import math

import numpy as np
import pytest

from stelab.theory.fokker_planck import FokkerPlanck
from stelab.theory.model import Model


def clip1(u):
    """A weight map flat beyond ±1: its derivative (the surrogate s = g′) vanishes there, with no listed jump."""
    return np.clip(u, -1.0, 1.0)


def test_faces_where_a_derivative_surrogate_vanishes_are_upwind():
    """g = clip(ŵ, −1, 1), s = g′ (central differences: 1 inside, 0 beyond ±1); grid faces at multiples of 0.1, so
    the faces at ±1 have s = 1 on one side and 0 on the other: α = A_i⁺ + D s_i²/h, β = A_{i+1}⁻ + D s_{i+1}²/h
    there, Scharfetter–Gummel (P = h A_f/(D s²)_f) between cells with s > 0, A = η s (w* − g), D = ½η²(ε + σ²)."""
    spec = {"weight_map": {"kind": "callable", "path": f"{__name__}:clip1"}, "surrogate": "derivative",
            "eta": 0.4, "sigma": 0.2, "teacher": {"kind": "rademacher", "value": 0.5}}
    m = Model.from_spec(spec)
    assert len(m.s.breakpoints()) == 0
    fp = FokkerPlanck(m, L=2.0, dx=0.1)
    x = fp.grid.centres
    s = np.where(np.abs(x) < 1, 1.0, 0.0)
    np.testing.assert_allclose(m.s(x), s, rtol=0, atol=1e-9)
    D = 0.5 * 0.16 * m.c * (0.7 + 0.04)
    alpha, beta = fp.face_rates(0.7)
    one_sided = 0
    for row, w in enumerate((-0.5, 0.5)):
        A = 0.4 * s * (m.a * w - m.c * np.clip(x, -1.0, 1.0))
        for i in range(len(x) - 1):
            h = x[i + 1] - x[i]
            if s[i] == 0 or s[i + 1] == 0:
                want = (max(A[i], 0) + D * s[i] ** 2 / h, max(-A[i + 1], 0) + D * s[i + 1] ** 2 / h)
                one_sided += (s[i] == 0) != (s[i + 1] == 0)
            else:
                P = h * (A[i] + A[i + 1]) / 2 / D
                B = lambda z: 1.0 if z == 0 else z / math.expm1(z)  # noqa: E731
                want = (D * B(-P) / h, D * B(P) / h)
            assert (alpha[row, i], beta[row, i]) == pytest.approx(want, rel=1e-6, abs=1e-12), (w, fp.grid.faces[i + 1])
    assert one_sided == 4  # the faces at ±1 for both teacher values


def exact_unquantized(tau, eta, sigma, eps0):
    rate = 2 * eta - eta**2
    fix = eta**2 * sigma**2 / rate
    return fix + (eps0 - fix) * np.exp(-rate * tau)


def test_first_crank_nicolson_step_without_start_up_uses_the_initial_error():
    """startup_steps = 0: the first step has no earlier ε to extrapolate from and takes D at ε₀ = 2 (w* = 1,
    μ₀ = N(0, 1)); it is within 1 % of the closed form (an extrapolation from anything else is not: D ∝ ε + σ²)."""
    m = Model.from_spec({"eta": 1.0, "sigma": 0.5})
    fp = FokkerPlanck(m, L=8.0, dx=0.01)
    r = fp.run(0.1, dt=0.1, startup_steps=0)
    mu0 = fp.initial_density()
    assert r.eps[0] == pytest.approx(2.0, abs=1e-4)
    assert r.eps[1] == pytest.approx(exact_unquantized(0.1, 1.0, 0.5, 2.0), rel=1e-2)
    assert r.eps[1] == pytest.approx(fp.error(fp.step(mu0, r.eps[0], 0.1, 0.5)), rel=1e-13)
    assert r.eps[1] != pytest.approx(fp.error(fp.step(mu0, 1.5 * r.eps[0], 0.1, 0.5)), rel=1e-2)


def test_monitors_include_the_last_step():
    """Backward Euler (θ = 1, positivity preserving) from U(−3, 3) towards w* = 1 on [−3, 3]: the far-left cell
    drains at every step, so the smallest density of the run is the final one (37 steps: no multiple of 50)."""
    m = Model.from_spec({"eta": 0.5, "sigma": 0.1, "init": {"kind": "uniform", "low": -3.0, "high": 3.0}})
    fp = FokkerPlanck(m, L=3.0, dx=0.05)
    r = fp.run(3.7, dt=0.1, theta=1.0, snapshot_taus=[3.6])
    assert len(r.tau) == 38 and 0.0 < r.final.min() < r.snapshots[3.6].min()
    assert r.min_density == r.final.min()
    assert r.mass_drift < 1e-12
