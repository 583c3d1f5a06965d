"""The small-η transport limit (theory/odes.py:transport_limit) solved by hand.

dŵ/dt = s(ŵ)(a w* − c g(ŵ)), t = ητ. For the STE and a step g the velocity is constant on each bin,
so a particle starting in the bin next to the threshold θ where the velocity changes sign reaches θ
at a time computed here, then slides: it dithers between the two levels with the weight λ on the
upper one that gives E[g | w*] = a w*/c, λ = (a w*/c − g₋)/(g₊ − g₋). ε is the mean of the error
terms w*² − 2a w* g + c g² (mixed with λ for sliding particles). Initial positions are the
mid-quantiles of μ₀: lo + (hi − lo)(i + ½)/n for a uniform law. For a linear g every Euler step
that overshoots the zero of the velocity lands, by linear interpolation, exactly on it: ŵ = a w*/c.
"""

import math
from statistics import NormalDist

import numpy as np
import pytest

from stelab.theory.model import Model
from stelab.theory.odes import transport_limit

from test_sweeps import gaussian_constants

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}
Q215 = {"kind": "quantizer", "bits": 2, "omega": 1.5}  # levels ±0.5, ±1.5, thresholds −1, 0, 1


def sliding_eps(x0, t, w, a, c, theta, g_lo, g_hi):
    """ε(t) for particles at ``x0`` around θ (g = g_lo below, g_hi above), all moving towards θ."""
    v_lo, v_hi = a * w - c * g_lo, a * w - c * g_hi
    assert v_lo > 0 > v_hi
    arrive = np.where(x0 < theta, (theta - x0) / v_lo, (x0 - theta) / -v_hi)
    err = lambda g: w * w - 2 * a * w * g + c * g * g  # noqa: E731
    lam = (a * w / c - g_lo) / (g_hi - g_lo)
    slid = lam * err(g_hi) + (1 - lam) * err(g_lo)
    before = np.where(x0 < theta, err(g_lo), err(g_hi))
    return float(np.mean(np.where(arrive <= t, slid, before)))


CASES = {  # weight map, input quantized, w*, init range, θ, g₋, g₊
    "b2_w2_theta_4_3": (Q22, False, 1.0, (0.1, 3.0), 4 / 3, 2 / 3, 2.0),
    "b2_w1.5_quantized_inputs_theta_1": (Q215, True, 1.2, (0.1, 3.0), 1.0, 0.5, 1.5),
    "b2_w1.5_quantized_inputs_first_threshold": (Q215, True, -1.2, (-3.0, -0.1), -1.0, -1.5, -0.5),
    "b1_w0.5_lambda_3_4": ({"kind": "quantizer", "bits": 1, "omega": 0.5}, False, 0.25, (-1.0, 1.0), 0.0, -0.5, 0.5),
}


@pytest.mark.parametrize("case", CASES)
def test_transport_limit_of_a_step_map_slides_on_the_threshold_of_the_target_bin(case):
    wmap, quantized_inputs, w, (lo, hi), theta, g_lo, g_hi = CASES[case]
    spec = {"weight_map": wmap, "eta": 0.05, "teacher": {"kind": "constant", "value": w},
            "init": {"kind": "uniform", "low": lo, "high": hi}}
    if quantized_inputs:
        spec["input_map"] = Q22
    a, c = gaussian_constants(2, 2.0) if quantized_inputs else (1.0, 1.0)
    x0 = lo + (hi - lo) * (np.arange(4000) + 0.5) / 4000  # n_particles = 4000 by default
    t = np.array([0.0, 0.405, 1.013, 2.5, 3.61, 5.0, 9.0])  # not on the dt grid: the last step is shortened
    out = transport_limit(Model.from_spec(spec), t / 0.05, dt=0.01)
    want = [sliding_eps(x0, ti, w, a, c, theta, g_lo, g_hi) for ti in t]
    np.testing.assert_allclose(out["eps"], want, rtol=0, atol=1e-12)
    assert len(set(np.round(want[:4], 9))) == 4  # the early time points see other arrivals
    assert out["eps"][-1] == pytest.approx(sliding_eps(x0, math.inf, w, a, c, theta, g_lo, g_hi), abs=1e-12)
    np.testing.assert_allclose(out["t"], t, rtol=1e-12)
    np.testing.assert_allclose(out["tau"], t / 0.05, rtol=1e-12)


def test_transport_limit_eta_override_and_a_two_valued_teacher():
    """Levels ±2, θ = 0, w* = ±1 (a = c = 1): λ = 3/4 and 1/4 on +2, both with sliding error 3; η = 0.025
    given explicitly runs the same transport to half the t = ητ."""
    spec = {"weight_map": {"kind": "quantizer", "bits": 1, "omega": 2.0}, "eta": 0.1,
            "teacher": {"kind": "rademacher", "value": 1.0}}
    x0 = np.array([NormalDist().inv_cdf((i + 0.5) / 2000) for i in range(2000)])
    t = np.array([0.0, 0.2, 0.6, 1.5, 4.0])

    def want(times):
        return [0.5 * (sliding_eps(x0, ti, 1.0, 1, 1, 0.0, -2.0, 2.0) + sliding_eps(x0, ti, -1.0, 1, 1, 0.0, -2.0, 2.0))
                for ti in times]

    out = transport_limit(Model.from_spec(spec), t / 0.1, n_particles=2000, dt=0.02)
    np.testing.assert_allclose(out["eps"], want(t), rtol=0, atol=1e-12)
    slow = transport_limit(Model.from_spec(spec), t / 0.1, eta=0.05, n_particles=2000, dt=0.02)
    np.testing.assert_allclose(slow["eps"], want(t / 2), rtol=0, atol=1e-12)
    assert transport_limit(Model.from_spec(spec), [0, 10], n_particles=10)["tau"].dtype == np.float64


def test_transport_limit_of_a_linear_map_stops_on_the_zero_of_the_velocity():
    """g = identity, quantized inputs, w* = 1.3: with h·c > 1 the first Euler step overshoots a w*/c for every
    particle and the interpolated root puts it there: ε = w*²(1 − a²/c) from t = h on."""
    a, c = gaussian_constants(2, 2.0)
    spec = {"input_map": Q22, "eta": 0.1, "teacher": {"kind": "constant", "value": 1.3}}
    x0 = np.array([NormalDist().inv_cdf((i + 0.5) / 500) for i in range(500)])
    t = np.array([0.0, 1.5, 3.0, 4.5])
    out = transport_limit(Model.from_spec(spec), t / 0.1, n_particles=500, dt=1.5)
    start = float(np.mean(1.69 - 2 * a * 1.3 * x0 + c * x0**2))
    np.testing.assert_allclose(out["eps"], [start] + [1.69 * (1 - a * a / c)] * 3, rtol=1e-12, atol=1e-14)


def test_transport_limit_default_step_follows_the_exponential_relaxation():
    """g = identity, a = c = 1, w* = 1: ŵ(t) = 1 + (ŵ₀ − 1)e^{−t}, ε(t) = e^{−2t}(1 + E[ŵ₀²]); the default step
    dt = 2·10⁻³ is within 0.2 % of it at t = 1."""
    x0 = np.array([NormalDist().inv_cdf((i + 0.5) / 4000) for i in range(4000)])
    t = np.array([0.0, 0.5, 1.0])
    out = transport_limit(Model.from_spec({"eta": 0.2}), t / 0.2)
    np.testing.assert_allclose(out["eps"], np.exp(-2 * t) * (1 + np.mean(x0**2)), rtol=3e-3)
    assert out["eps"][-1] == pytest.approx(math.exp(-2) * (1 + np.mean(x0**2)), rel=3e-3)


@pytest.mark.parametrize("dt, n", [(1.0, 4000), (0.8, 4000), (1.0, 1)])
def test_a_step_across_two_thresholds_stops_on_the_one_where_the_velocity_turns(dt, n):
    """Q₂,₁.₅ (thresholds −1, 0, 1), a = c = 1, w* = 1.25: the velocity 1.25 − g is positive below θ = 1 and
    −0.25 above, so every particle ends sliding on θ = 1 with λ = (1.25 − 0.5)/(1.5 − 0.5) = 3/4 and
    ε = w*² − 2w*(λ·1.5 + (1 − λ)·0.5) + λ·1.5² + (1 − λ)·0.5² = 0.1875 — also when one Euler step from
    below 0 passes θ = 0 (where nothing turns) and θ = 1 together."""
    init = {"kind": "normal", "mean": 0.0, "std": 1.0} if n > 1 else {"kind": "uniform", "low": -1.0, "high": 0.0}
    model = Model.from_spec({"weight_map": Q215, "eta": 0.5, "init": init,
                             "teacher": {"kind": "constant", "value": 1.25}})
    assert (model.a, model.c) == pytest.approx((1.0, 1.0))
    lam = (1.25 - 0.5) / (1.5 - 0.5)
    exact = 1.25**2 - 2 * 1.25 * (lam * 1.5 + (1 - lam) * 0.5) + lam * 1.5**2 + (1 - lam) * 0.5**2
    assert exact == pytest.approx(0.1875)
    eps = transport_limit(model, np.array([40.0, 200.0]), n_particles=n, dt=dt)["eps"]
    assert eps == pytest.approx([exact, exact], abs=1e-9)


def test_a_step_down_across_three_thresholds_stops_on_the_one_where_the_velocity_turns():
    """The mirror case: w* = 0.25, one particle at 1.25, dt = 2. The velocity 0.25 − g is −1.25 above θ = 1, −0.25
    on (0, 1) and +0.75 on (−1, 0): the first Euler step lands at −1.25, past θ = 1, 0 and −1, and the particle
    must slide on θ = 0 with λ = (0.25 + 0.5)/1 = 3/4: ε = 0.25² − 2·0.25·(3/4·0.5 − 1/4·0.5) + 0.5² = 0.1875."""
    model = Model.from_spec({"weight_map": Q215, "eta": 0.5, "init": {"kind": "uniform", "low": 1.0, "high": 1.5},
                             "teacher": {"kind": "constant", "value": 0.25}})
    eps = transport_limit(model, np.array([40.0]), n_particles=1, dt=2.0)["eps"]
    assert eps == pytest.approx([0.1875], abs=1e-12)
