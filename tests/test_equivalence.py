import math

import numpy as np
import pytest
import torch

from stelab.equivalence import WeightMap, estimator_constants
from stelab.estimators import get_estimator
from stelab.quantizers import UniformQuantizer

CYCLICAL = [
    {"name": "htge", "k0": 5.5},
    {"name": "htge", "k0": 5.5, "outside": "periodic"},
    {"name": "dsq", "alpha_dsq": 0.11},
    "mad",
    "ste",
    "pwl",
    {"name": "user_estimators:raised_cosine", "depth": 0.6},
    {"name": "user_estimators:soft_staircase", "kind": "value"},
]


def _ids(spec):
    return spec if isinstance(spec, str) else "-".join(f"{v}" for v in spec.values())


def _weights(n, m, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, generator=g, dtype=torch.float64) * 2 - 1) * 2.5 * m


def test_q_of_m_equals_q_on_a_million_weights():
    q = UniformQuantizer(2, 0.37)
    wm = WeightMap({"name": "htge", "k0": 5.5}, q)
    w = _weights(1_000_000, q.m)
    assert torch.equal(q(wm(w)), q(w))


@pytest.mark.parametrize("spec", CYCLICAL, ids=_ids)
@pytest.mark.parametrize("bits", [2, 4])
def test_m_preserves_bins_fixes_thresholds_and_increases(spec, bits):
    q = UniformQuantizer(bits, 0.8)
    wm = WeightMap(spec, q)
    w = _weights(50_000, q.m, seed=bits)
    assert torch.equal(q(wm(w)), q(w))
    th = torch.tensor(q.thresholds, dtype=torch.float64)
    torch.testing.assert_close(wm(th), th, rtol=0, atol=1e-12 * q.delta)
    ws = torch.sort(w).values
    assert (torch.diff(wm(ws)) >= 0).all()


@pytest.mark.parametrize("spec", CYCLICAL[:4] + CYCLICAL[6:], ids=_ids)
def test_inverse_round_trips(spec):
    q = UniformQuantizer(2, 0.8)
    wm = WeightMap(spec, q)
    w = _weights(5_000, q.m, seed=3)
    err = (wm.inverse(wm(w)) - w).abs().max() / q.delta
    assert err < 1e-6


def test_m_derivative_is_alpha_over_qhat_prime():
    q = UniformQuantizer(2, 1.0)
    wm = WeightMap({"name": "dsq", "alpha_dsq": 0.2}, q)
    w = torch.linspace(-0.95, 0.95, 77, dtype=torch.float64)
    h = 1e-6
    fd = (wm(w + h) - wm(w - h)) / (2 * h)
    torch.testing.assert_close(fd, wm.derivative(w), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("bits, k0", [(2, 5.5), (4, 18.0), (3, 2.0), (8, 5.5)])
def test_alpha_closed_form_matches_quadrature(bits, k0):
    wm = WeightMap({"name": "htge", "k0": k0}, UniformQuantizer(bits, 0.6))
    assert wm.alpha_quadrature() == pytest.approx(wm.alpha, rel=1e-8)


def test_alpha_for_the_papers_default_setting():
    """htge, 2 bits, k0 = 5.5 (paper A §6.1) → t = 11/3, α = t²/(tanh(t/2)(t + sinh t)) ≈ 0.609 (eq. 4)."""
    t = 11 / 3
    expected = t * t / (math.tanh(t / 2) * (t + math.sinh(t)))
    for m in (0.1, 1.0, 3.0):
        assert WeightMap({"name": "htge", "k0": 5.5}, UniformQuantizer(2, m)).alpha == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.609, abs=1e-3)


def test_alpha_is_one_for_a_single_bit():
    assert WeightMap({"name": "htge", "k0": 2.0}, UniformQuantizer(1, 1.0)).alpha == 1.0


def test_ste_net_estimator_follows_appendix_g():
    q = UniformQuantizer(2, 0.5)
    vanishing = WeightMap({"name": "htge", "k0": 5.5}, q)
    sgd, adam = vanishing.ste_estimator("sgd"), vanishing.ste_estimator("adam")
    ends = vanishing(torch.tensor([-0.5, 0.5], dtype=torch.float64))
    assert sgd.name == "pwl" and (sgd.lo, sgd.hi) == pytest.approx(tuple(ends.tolist()))
    assert adam.name == "pwl" and (adam.lo, adam.hi) == pytest.approx((-0.5, 0.5))
    assert WeightMap({"name": "htge", "k0": 5.5, "outside": "periodic"}, q).ste_estimator("sgd").name == "ste"
    assert vanishing.learning_rate_factor("adam") == 1.0
    assert vanishing.learning_rate_factor("momentum") == vanishing.alpha


# --- paper A, App. H, recomputed from the definitions -------------------------------------


@pytest.mark.parametrize("bits, k, printed", [(8, 8, 0.25), (4, 6, 2.66), (3, 4, 2.82), (2, 2, 1.77)])
def test_app_h_htge_coefficients(bits, k, printed):
    """Q̂' ∝ k·sech²(k·w) on [−Δ/2, Δ/2], Δ = 2/(2^b − 1): L′L+/(2L−²) to the paper's 2 decimals."""
    c = estimator_constants({"name": "htge", "k": k}, UniformQuantizer(bits, 1.0))
    assert round(c["convexity_coeff"], 2) == printed


def test_app_h_constants_against_the_closed_forms():
    """L+ = k, L− = k/cosh²(kΔ/2), L′ at w* = min(Δ/2, log(2+√3)/(2k)) (App. H), up to Q̂''s normalisation."""
    k, bits = 4.0, 3
    q = UniformQuantizer(bits, 1.0)
    d = q.delta
    c = estimator_constants({"name": "htge", "k": k}, q)
    scale = c["L_plus"] / k
    assert c["L_minus"] / scale == pytest.approx(k / math.cosh(k * d / 2) ** 2, rel=1e-9)
    w_star = min(d / 2, math.log(2 + math.sqrt(3)) / (2 * k))
    l_prime = 2 * k * k * math.tanh(k * w_star) / math.cosh(k * w_star) ** 2
    assert c["L_prime"] / scale == pytest.approx(l_prime, rel=1e-6)


@pytest.mark.parametrize("alpha_dsq, printed", [(0.25, 1.71), (0.11, 4.28)])
def test_app_h_dsq_range(alpha_dsq, printed):
    """DSQ, α_dsq ∈ [0.11, 0.25]: the paper's [1.71, 4.28] is |Q̂''| at the bin edge with k = 1."""
    t = 2 * math.atanh(1 - alpha_dsq)
    c = estimator_constants({"name": "dsq", "alpha_dsq": alpha_dsq}, UniformQuantizer(2, 1.5 * t))
    assert round(c["convexity_coeff_edge"], 2) == printed
    assert c["convexity_coeff"] >= c["convexity_coeff_edge"]


def test_assumption_checks():
    q = UniformQuantizer(2, 1.0)
    assert estimator_constants("ste", q)["assumption_5_1_1"] == "holds"
    assert estimator_constants({"name": "htge", "k0": 5.5}, q)["assumption_5_1_1"] == "range only (App. G)"
    binary = estimator_constants("approx_sign", UniformQuantizer(1, 1.0))
    assert binary["assumption_5_1_1"] == "fails"
    pwl = estimator_constants("pwl", UniformQuantizer(2, 1.0))
    assert pwl["L_prime"] == 0 and pwl["assumption_5_1_2"] == "holds"
    jump = estimator_constants({"name": "user_estimators:step_dip"}, q)
    assert jump["assumption_5_1_2"] == "fails" and math.isinf(jump["L_prime"])
    assert not estimator_constants({"name": "sigmoid_sum", "temperature": 5.0}, q)["cyclical"]


@pytest.mark.parametrize("t", [1.0, 3.0])
def test_value_kind_user_estimator_gets_the_closed_form_constants(t):
    """A ``kind: value`` user Q̂ equal to htge's (tests/user_estimators.py:soft_staircase) gives App. H's
    closed forms: L+ = (t/2)/tanh(t/2), L− = L+/cosh²(t/2), L′ = L+·(t/Δ)·2 tanh(u)/cosh²(u) at
    u = min(t/2, log(2+√3)/2); and α of eq. 4 in closed form."""
    q = UniformQuantizer(3, 1.0)
    c = estimator_constants({"name": "user_estimators:soft_staircase", "kind": "value", "sharpness": t}, q)
    l_plus = (t / 2) / math.tanh(t / 2)
    u = min(t / 2, math.log(2 + math.sqrt(3)) / 2)
    assert c["L_plus"] == pytest.approx(l_plus, rel=1e-9)
    assert c["L_minus"] == pytest.approx(l_plus / math.cosh(t / 2) ** 2, rel=1e-9)
    assert c["L_prime"] == pytest.approx(l_plus * (t / q.delta) * 2 * math.tanh(u) / math.cosh(u) ** 2, rel=1e-6)
    assert c["alpha"] == pytest.approx(t * t / (math.tanh(t / 2) * (t + math.sinh(t))), rel=1e-8)
    assert c["convexity_coeff"] > 0


def test_an_estimator_outside_autograd_has_no_silent_zero_lipschitz_constant():
    message = r"user_estimators:outside_autograd\(kind=grad\).*autograd gives max \|Q̂''\| = 0"
    with pytest.raises(ValueError, match=message):
        estimator_constants("user_estimators:outside_autograd", UniformQuantizer(2, 1.0))


def test_a_nan_constant_is_an_error_naming_estimator_and_constant():
    """NaN between the validation grid's points, on the constants' grid: L− would be NaN."""
    message = r"user_estimators:nan_between_grid_points\(kind=grad\).*constant L_minus is nan"
    with pytest.raises(ValueError, match=message):
        estimator_constants("user_estimators:nan_between_grid_points", UniformQuantizer(2, 1.0))


@pytest.mark.parametrize(
    "spec, message",
    [("user_estimators:negative_dip", r"user_estimators:negative_dip\(kind=grad\).*negative"),
     ({"name": "pwl", "lo": -0.5, "hi": 0.5}, r"pwl\(lo=-0.5, hi=0.5\).*vanishes inside the representable range")],
    ids=["negative", "zero-on-range"],
)
def test_constants_of_an_invalid_estimator_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        estimator_constants(spec, UniformQuantizer(2, 1.0))


# --- Theorem 5.1 mechanics, without training ----------------------------------------------


def test_one_step_alignment_error_is_second_order_in_eta():
    """Q̂-net: w₁ = w₀ − η g Q̂'(w₀); STE-net: v₁ = M(w₀) − αη g. |M(w₁) − v₁| = O(η²) (eq. 6)."""
    q = UniformQuantizer(2, 1.0)
    est = get_estimator({"name": "htge", "k0": 5.5})
    wm = WeightMap(est, q)
    w0 = torch.tensor([0.21, -0.47, 0.05], dtype=torch.float64)
    grads = torch.tensor([0.8, -1.3, 0.4], dtype=torch.float64)
    etas = np.logspace(-4, -1, 13)
    errors = []
    for eta in etas:
        w1 = w0 - eta * grads * est.grad(w0, q)
        v1 = wm(w0) - wm.alpha * eta * grads
        errors.append(float((wm(w1) - v1).abs().mean()))
    slope = np.polyfit(np.log(etas), np.log(errors), 1)[0]
    assert slope == pytest.approx(2.0, abs=0.1)


def test_many_steps_alignment_error_shrinks_with_eta():
    """A fixed gradient sequence over T steps: E_T ∝ η² T, so E_T(η)/E_T(η/10) ≈ 100."""
    q = UniformQuantizer(2, 1.0)
    est = get_estimator({"name": "dsq", "alpha_dsq": 0.2})
    wm = WeightMap(est, q)
    g = torch.Generator().manual_seed(1)
    grads = torch.randn(200, generator=g, dtype=torch.float64)

    def final_error(eta, steps):
        w = torch.tensor([0.1], dtype=torch.float64)
        v = wm(w)
        for gt in grads[:steps]:
            w = w - eta * gt * est.grad(w, q)
            v = v - wm.alpha * eta * gt
        return float((wm(w) - v).abs())

    ratio = final_error(1e-3, 100) / final_error(1e-4, 100)
    assert 50 < ratio < 200
