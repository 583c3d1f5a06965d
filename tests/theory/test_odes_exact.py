"""The ODE limits of theory/odes.py against equations written out here from its docstring.

Second routes that share no code with ``stelab.theory.odes``: Gaussian bin sums with ``math.erf``,
the closure ODEs integrated by ``scipy.integrate.solve_ivp`` (DOP853, tight tolerances) and the
closed linear ODE integrated the same way (the transport limit: ``test_transport.py``).
The constants a, c come from ``gaussian_constants`` (quadrature, ``test_sweeps.py``).
"""

import math

import numpy as np
import pytest
from scipy import integrate

from stelab.theory.model import Model
from stelab.theory.odes import _closure_step_moments, gaussian_closure, linear_ode

from test_sweeps import gaussian_constants, levels

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0}


def Phi(z):
    return 0.5 * (1 + math.erf(z / math.sqrt(2))) if math.isfinite(z) else float(z > 0)


def phi(z):
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi) if math.isfinite(z) else 0.0


def step_moments(lv, m, v):
    """E[g], E[g²], E[g′] (= Σ Δ_j φ_v(θ_j), Stein) for ŵ ~ N(m, v) and the step map with levels ``lv``."""
    sd = math.sqrt(v)
    th = (lv[:-1] + lv[1:]) / 2
    edges = [-math.inf, *((th - m) / sd), math.inf]
    p = np.array([Phi(hi) - Phi(lo) for lo, hi in zip(edges[:-1], edges[1:])])
    egp = sum((lv[j + 1] - lv[j]) * phi((th[j] - m) / sd) for j in range(len(th))) / sd
    return float(p @ lv), float(p @ lv**2), egp


def test_closure_step_moments_are_gaussian_bin_sums():
    model = Model.from_spec({"weight_map": {"kind": "quantizer", "bits": 3, "omega": 1.5}})
    lv = levels(3, 1.5)
    m, v = np.array([-2.0, 0.1, 0.7]), np.array([0.3, 1.2, 0.05])
    eg, eg2, egp = _closure_step_moments(model, m, v)
    for i in range(3):
        want = step_moments(lv, m[i], v[i])
        np.testing.assert_allclose([eg[i], eg2[i], egp[i]], want, rtol=1e-12, atol=1e-14)
        h = 1e-5  # Stein: E[g′] = ∂_m E[g]
        fd = (step_moments(lv, m[i] + h, v[i])[0] - step_moments(lv, m[i] - h, v[i])[0]) / (2 * h)
        assert egp[i] == pytest.approx(fd, rel=1e-6)


def closure_reference(rhs, y0, taus):
    sol = integrate.solve_ivp(rhs, (0.0, taus[-1]), y0, t_eval=taus, method="DOP853", rtol=1e-11, atol=1e-13)
    assert sol.success
    return sol.y


def test_gaussian_closure_of_a_step_map_with_the_ste():
    """m′ = η(a w* − c E[g]), v′ = −2ηc v E[g′] + η²c(ε + σ²) per teacher value (two values, non-centred μ₀)."""
    spec = {"weight_map": Q22, "input_map": Q22, "eta": 0.3, "sigma": 0.3,
            "teacher": {"kind": "discrete", "values": [0.5, 1.0], "probs": [0.4, 0.6]},
            "init": {"kind": "normal", "mean": 0.2, "std": 0.8}}
    a, c = gaussian_constants(2, 2.0)
    lv, wv, wp, eta, s2 = levels(2, 2.0), np.array([0.5, 1.0]), np.array([0.4, 0.6]), 0.3, 0.09

    def eps_of(y):
        mom = [step_moments(lv, y[k], max(y[2 + k], 1e-14)) for k in range(2)]
        return sum(wp[k] * (wv[k] ** 2 - 2 * a * wv[k] * mom[k][0] + c * mom[k][1]) for k in range(2)), mom

    def rhs(_, y):
        eps, mom = eps_of(y)
        dm = [eta * (a * wv[k] - c * mom[k][0]) for k in range(2)]
        dv = [-2 * eta * c * y[2 + k] * mom[k][2] + eta**2 * c * (eps + s2) for k in range(2)]
        return dm + dv

    taus = np.array([0.0, 0.5, 2.0, 6.0, 15.0])
    ref = closure_reference(rhs, [0.2, 0.2, 0.64, 0.64], taus)
    out = gaussian_closure(Model.from_spec(spec), taus)
    np.testing.assert_array_equal(out["tau"], taus)
    np.testing.assert_allclose(out["m"], ref[:2], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out["v"], ref[2:], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out["eps"], [eps_of(ref[:, i])[0] for i in range(len(taus))], rtol=1e-6)
    assert out["eps"][0] == pytest.approx(Model.from_spec(spec).initial_error(), rel=1e-12)
    faster = gaussian_closure(Model.from_spec(spec), taus, eta=0.6)  # η given explicitly: another curve
    assert not np.allclose(faster["eps"][1:], out["eps"][1:], rtol=1e-3)


GH_Z, GH_W = np.polynomial.hermite_e.hermegauss(80)


def gh_expect(f, m, sd):
    """E[f(m + sd·Z)] by Gauss–Hermite (smooth f)."""
    return float(f(m + sd * GH_Z) @ (GH_W / GH_W.sum()))


def test_gaussian_closure_of_a_smooth_map_with_its_derivative():
    """tanh weights with s = g′: m′ = η E[s(aw* − cg)], v′ = 2η E[(ŵ − m) s(aw* − cg)] + η²c(ε + σ²)E[s²]
    (quantized inputs: a, c ≠ 1; teacher ±1.5)."""
    spec = {"weight_map": {"kind": "tanh", "scale": 2.0}, "input_map": Q22, "surrogate": "derivative", "eta": 0.5,
            "sigma": 0.3, "teacher": {"kind": "rademacher", "value": 1.5},
            "init": {"kind": "normal", "mean": 0.5, "std": 1.0}}
    g = lambda u: 2.0 * np.tanh(u / 2.0)  # noqa: E731
    s = lambda u: 1.0 / np.cosh(u / 2.0) ** 2  # noqa: E731
    a, c = gaussian_constants(2, 2.0)
    wv, eta, s2 = np.array([-1.5, 1.5]), 0.5, 0.09

    def eps_of(y):
        sd = np.sqrt(np.maximum(y[2:], 0.0))
        return sum(0.5 * gh_expect(lambda u, w=w: w * w - 2 * a * w * g(u) + c * g(u) ** 2, y[k], sd[k])
                   for k, w in enumerate(wv))

    def rhs(_, y):
        eps, sd = eps_of(y), np.sqrt(np.maximum(y[2:], 1e-14))
        dm = [eta * gh_expect(lambda u, w=w: s(u) * (a * w - c * g(u)), y[k], sd[k]) for k, w in enumerate(wv)]
        dv = [2 * eta * gh_expect(lambda u, w=w, k=k: (u - y[k]) * s(u) * (a * w - c * g(u)), y[k], sd[k])
              + eta**2 * c * (eps + s2) * gh_expect(lambda u: s(u) ** 2, y[k], sd[k]) for k, w in enumerate(wv)]
        return dm + dv

    taus = np.array([0.0, 1.0, 4.0, 10.0])
    ref = closure_reference(rhs, [0.5, 0.5, 1.0, 1.0], taus)
    out = gaussian_closure(Model.from_spec(spec), taus)
    np.testing.assert_allclose(out["m"], ref[:2], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["v"], ref[2:], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out["eps"], [eps_of(ref[:, i]) for i in range(len(taus))], rtol=1e-4)
    assert ref[0, -1] < 0 < ref[1, -1]  # the two teacher values pull apart
    assert gaussian_closure(Model.from_spec(spec), [0, 1])["tau"].dtype == np.float64  # integer times: floats


def test_gaussian_closure_of_a_step_map_with_the_clipped_ste():
    """Step g, s = 1{|ŵ| ≤ 2}: drift and its moments are Gaussian bin sums over the bins inside the range."""
    spec = {"weight_map": Q22, "surrogate": "clipped", "eta": 0.4, "sigma": 0.2}
    lv, eta, s2 = levels(2, 2.0), 0.4, 0.04
    th = (lv[:-1] + lv[1:]) / 2
    cuts = np.concatenate([[-2.0], th, [2.0]])  # bins clipped to the representable range [−2, 2]

    def rhs(_, y):
        m, v = y
        sd = math.sqrt(max(v, 1e-14))
        z = (cuts - m) / sd
        mass = np.array([Phi(z[j + 1]) - Phi(z[j]) for j in range(4)])
        zphi = np.array([phi(z[j]) - phi(z[j + 1]) for j in range(4)])  # ∫ z φ over each clipped bin
        eg, eg2, _ = step_moments(lv, m, sd * sd)
        eps = 1 - 2 * eg + eg2
        dm = eta * float(mass @ (1 - lv))
        dv = 2 * eta * sd * float(zphi @ (1 - lv)) + eta**2 * (eps + s2) * float(mass.sum())
        return [dm, dv]

    taus = np.array([0.0, 2.0, 5.0, 8.0])
    ref = closure_reference(rhs, [0.0, 1.0], taus)
    out = gaussian_closure(Model.from_spec(spec), taus)
    # the solver's equispaced nodes see the jumps of s at ±2 only to O(node spacing)
    np.testing.assert_allclose(out["m"][0], ref[0], rtol=0, atol=1e-3)
    np.testing.assert_allclose(out["v"][0], ref[1], rtol=0, atol=1e-3)
    eps_ref = [1 - 2 * step_moments(lv, ref[0, i], ref[1, i])[0] + step_moments(lv, ref[0, i], ref[1, i])[1]
               for i in range(len(taus))]
    np.testing.assert_allclose(out["eps"], eps_ref, rtol=0, atol=1e-3)
    assert abs(out["m"][0, -1] - out["m"][0, 0]) > 0.3


def linear_reference(a, c, rho, mean_w, sigma, eta, mean0, var0, taus):
    """m′ = η(aρ − c m), q′ = 2η(a m − c q) + η²c(ε + σ²), ε = ρ − 2a m + c q (module docstring)."""
    def rhs(_, y):
        m, q = y
        eps = rho - 2 * a * m + c * q
        return [eta * (a * rho - c * m), 2 * eta * (a * m - c * q) + eta**2 * c * (eps + sigma**2)]

    y = closure_reference(rhs, [mean_w * mean0, mean0**2 + var0], np.asarray(taus))
    return rho - 2 * a * y[0] + c * y[1], y[0], y[1]


def test_linear_ode_with_quantized_inputs_a_discrete_teacher_and_a_shifted_init():
    spec = {"input_map": Q22, "eta": 0.4, "sigma": 0.5,
            "teacher": {"kind": "discrete", "values": [-0.5, 2.0], "probs": [0.25, 0.75]},
            "init": {"kind": "normal", "mean": 0.3, "std": 0.6}}
    a, c = gaussian_constants(2, 2.0)
    rho, mean_w = 0.25 * 0.25 + 0.75 * 4.0, 0.25 * -0.5 + 0.75 * 2.0
    taus = np.array([0.0, 0.7, 3.0, 9.0])
    out = linear_ode(Model.from_spec(spec), taus)
    eps, m, q = linear_reference(a, c, rho, mean_w, 0.5, 0.4, 0.3, 0.36, taus)
    np.testing.assert_allclose(out["eps"], eps, rtol=1e-9)
    np.testing.assert_allclose(out["m"], m, rtol=1e-9)
    np.testing.assert_allclose(out["q"], q, rtol=1e-9)
    np.testing.assert_array_equal(out["tau"], taus)
    assert linear_ode(Model.from_spec(spec), [0, 1, 3])["tau"].dtype == np.float64  # integer times come back as floats
    other = linear_ode(Model.from_spec(spec), taus, eta=0.1)
    np.testing.assert_allclose(other["eps"], linear_reference(a, c, rho, mean_w, 0.5, 0.1, 0.3, 0.36, taus)[0],
                               rtol=1e-9)


@pytest.mark.parametrize("spec", [{"weight_map": Q22}, {"surrogate": "clipped"}])
def test_linear_ode_refuses_what_it_does_not_solve(spec):
    with pytest.raises(ValueError, match="^theory: the closed ODE needs weight_map identity and surrogate ste$"):
        linear_ode(Model.from_spec(spec), [0.0, 1.0])
