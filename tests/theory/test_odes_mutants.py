"""ODE-limit cases the mutation run of issue 17 found untested (``tests/mutation/run.sh theory_odes``).

Expected values are written out from the equations of ``stelab.theory.odes``'s docstring (paper B,
arXiv 2510.10693, this workflow's derivation): the Gaussian closure of a step map with the STE,
integrated here by DOP853 at tight tolerances (``test_odes_exact.closure_reference``), and the
small-η transport limit solved by hand for one or two particles on dyadic positions. Q_{2,1.5} (range layout)
has levels ±0.5, ±1.5 and thresholds −1, 0, 1 (Q(θ) rounds half to even: Q(0) = 0.5, Q(1) = 0.5); with
unquantized inputs a = c = 1 (to rounding: 1 + 2⁻⁵² from quadrature) the velocity in the bin of level ℓ is
w* − ℓ, and a particle sliding on θ puts the weight λ = (w* − ℓ₋)/(ℓ₊ − ℓ₋) on the upper level, so
ε = λ(w* − ℓ₊)² + (1 − λ)(w* − ℓ₋)².
"""

import numpy as np
import pytest

from stelab.theory.model import Model
from stelab.theory.odes import gaussian_closure, particles, transport_limit

from test_odes_exact import closure_reference, step_moments
from test_sweeps import levels

Q215 = {"kind": "quantizer", "bits": 2, "omega": 1.5}


def test_gaussian_closure_of_a_step_map_with_the_ste_is_solved_to_1e_7():
    """The exact case (step g, STE) is integrated to rtol 1e-8: within 1e-7 of a DOP853 solution at 1e-11
    (a = c = 1; Q_{3,1}, one teacher value, μ₀ = N(−0.4, 0.5²))."""
    spec = {"weight_map": {"kind": "quantizer", "bits": 3, "omega": 1.0}, "eta": 0.8, "sigma": 0.5,
            "teacher": {"kind": "constant", "value": 0.6}, "init": {"kind": "normal", "mean": -0.4, "std": 0.5}}
    lv, w, eta, s2 = levels(3, 1.0), 0.6, 0.8, 0.25

    def rhs(_, y):
        m, v = y
        eg, eg2, egp = step_moments(lv, m, max(v, 1e-14))
        eps = w * w - 2 * w * eg + eg2
        return [eta * (w - eg), -2 * eta * v * egp + eta**2 * (eps + s2)]

    taus = np.array([0.0, 1.0, 3.0, 8.0, 20.0])
    ref = closure_reference(rhs, [-0.4, 0.25], taus)
    out = gaussian_closure(Model.from_spec(spec), taus)
    np.testing.assert_allclose(out["m"][0], ref[0], rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(out["v"][0], ref[1], rtol=1e-7, atol=1e-10)
    assert abs(ref[0, -1] - ref[0, 0]) > 0.5  # it moved


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow on the way
def test_gaussian_closure_that_diverges_raises_with_the_solvers_message():
    """η = 10¹⁵⁰ (far beyond η < 2): the closure blows up and the solver gives up."""
    with pytest.raises(ValueError, match=r"^theory: Gaussian closure failed: \S"):
        gaussian_closure(Model.from_spec({}), [0.0, 1.0], eta=1e150)


def one_particle(w, lo, hi, t, dt, weight_map=Q215, eta=0.5):
    """ε of ``transport_limit`` with one particle at the mid-quantile (lo + hi)/2 of U(lo, hi) on t = ητ."""
    spec = {"weight_map": weight_map, "eta": eta, "teacher": {"kind": "constant", "value": w},
            "init": {"kind": "uniform", "low": lo, "high": hi}}
    return transport_limit(Model.from_spec(spec), np.asarray(t) / eta, n_particles=1, dt=dt)["eps"]


def sliding(w, lo_level, hi_level):
    lam = (w - lo_level) / (hi_level - lo_level)
    return lam * (w - hi_level) ** 2 + (1 - lam) * (w - lo_level) ** 2


def test_transport_particle_leaving_a_threshold_slides_on_the_next_one_it_passes():
    """Start on θ = 0 (Q(0) = 0.5), w* = 1.25: velocity 0.75 up to θ = 1, −0.25 above it. One step h = 2
    carries it to 1.5, past θ = 1, where the velocity changes sign: it slides there with λ = 3/4."""
    eps = one_particle(1.25, -1.0, 1.0, [0.0, 2.0], dt=2.0)
    assert sliding(1.25, 0.5, 1.5) == 0.1875
    np.testing.assert_allclose(eps, [0.75**2, 0.1875], rtol=0, atol=1e-15)


def test_transport_particle_landing_exactly_on_the_threshold_slides_there():
    """w* = 0.25: velocity v = a w* + c/2 ≈ 0.75 below θ = 0, ≈ −0.25 above (Q(0) = 0.5). Started at
    ŵ₀ = −h·v (a point mass: μ₀ = N(ŵ₀, 1) has one mid-quantile, its mean), one step h = 1 ends exactly on
    θ = 0, in floating point too: it slides there with λ = 3/4 (a, c = 1 to rounding)."""
    model = Model.from_spec({"weight_map": Q215})
    start = -(1.0 * (model.a * 0.25 - model.c * -0.5))  # −h·v as the solver computes v
    spec = {"weight_map": Q215, "eta": 0.5, "teacher": {"kind": "constant", "value": 0.25},
            "init": {"kind": "normal", "mean": start, "std": 1.0}}
    eps = transport_limit(Model.from_spec(spec), np.array([0.0, 1.0]) / 0.5, n_particles=1, dt=1.0)["eps"]
    assert start + 1.0 * (model.a * 0.25 - model.c * -0.5) == 0.0
    assert sliding(0.25, -0.5, 0.5) == 0.1875
    np.testing.assert_allclose(eps, [0.75**2, 0.1875], rtol=0, atol=1e-14)


def test_transport_of_a_linear_map_with_an_euler_step_reflecting_the_velocity():
    """g = identity, a = c = 1 (to rounding), w* = 1.25, h = 2: the Euler step from ŵ = 1.125 or 1.375 lands on
    the mirror image across w*, where the velocity w* − ŵ is exactly the opposite (in floating point too, for these
    two); the interpolated root is ŵ = w*, so ε = 0 from t = h on."""
    spec = {"eta": 0.25, "teacher": {"kind": "constant", "value": 1.25},
            "init": {"kind": "uniform", "low": 1.0, "high": 1.5}}  # mid-quantiles 1.125 and 1.375
    model = Model.from_spec(spec)
    x0 = np.array([1.125, 1.375])
    v0 = model.a * 1.25 - model.c * x0
    np.testing.assert_array_equal(v0 + (model.a * 1.25 - model.c * (x0 + 2.0 * v0)), 0.0)  # reflected
    t = np.array([0.0, 2.0, 4.0])
    out = transport_limit(model, t / 0.25, n_particles=2, dt=2.0)
    np.testing.assert_allclose(out["eps"], [np.mean((1.25 - x0) ** 2), 0.0, 0.0], rtol=0, atol=1e-14)


def test_particles_default_seed_is_0():
    spec = {"weight_map": Q215, "eta": 0.5, "sigma": 0.5}
    taus = [0.0, 0.1]
    default = particles(Model.from_spec(spec), 0.1, taus, n=200, dt=0.05)
    np.testing.assert_array_equal(default["eps"], particles(Model.from_spec(spec), 0.1, taus, n=200, dt=0.05,
                                                            seed=0)["eps"])
    assert not np.array_equal(default["eps"], particles(Model.from_spec(spec), 0.1, taus, n=200, dt=0.05,
                                                        seed=1)["eps"])
