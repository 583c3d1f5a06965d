"""The estimators and the quantizers checked against their formulas, written out again in NumPy (issue 17):
MAD (Sakr et al.), EDE, ApproxSign, the sigmoid sum (Yang et al.), HTGE (paper A, arXiv 2405.05171, App. B)
and PWL, and the quantizers' levels, thresholds and indices (paper A §2). The definitions shared with
the constants' checks are those of tests/test_numbers.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stelab.estimators import get_estimator, quantize, validate_estimator
from stelab.quantizers import UniformQuantizer, he_uniform_bound

from test_numbers import htge_prime


# --- the estimators against their formulas ----------------------------------------------------


def test_mad_against_sakr_et_al():
    q = UniformQuantizer(2, 0.8)
    x = np.array([-3.0, -0.81, -0.8, -0.1, 0.0, 0.4, 0.8, 0.95, 2.5])
    for s in (None, 0.5):
        est = get_estimator({"name": "mad"} if s is None else {"name": "mad", "s": s})
        b = 0.8 if s is None else s
        big = np.maximum(np.abs(x), b)
        grad = np.where(np.abs(x) <= b, 1.0, b / big)
        value = np.where(np.abs(x) <= b, x, np.sign(x) * b * (1 + np.log(big / b)))
        xt = torch.tensor(x, dtype=torch.float64)
        np.testing.assert_allclose(est.grad(xt, q).numpy(), grad, rtol=1e-14)
        np.testing.assert_allclose(est.value(xt, q).numpy(), value, rtol=1e-14)
        assert est.kinks(q) == pytest.approx((-b, b))


def test_ede_and_approx_sign_against_their_papers():
    q = UniformQuantizer(1, 0.5)
    x = np.linspace(-1.0, 1.0, 41)
    xt = torch.tensor(x, dtype=torch.float64)
    t, k = 0.1 * 10 ** (0.3 * 2), max(1 / (0.1 * 10 ** 0.6), 1.0)  # epoch 3 of 10, T_min 0.1, T_max 10
    ede = get_estimator("ede").at_epoch(3, 10)
    assert (ede.t, ede.k) == pytest.approx((t, k), rel=1e-12)
    np.testing.assert_allclose(ede.grad(xt, q).numpy(), k * t * (1 - np.tanh(t * x / 0.5) ** 2), rtol=1e-12)
    np.testing.assert_allclose(ede.value(xt, q).numpy(), 0.5 * k * np.tanh(t * x / 0.5), rtol=1e-12)
    default = get_estimator("ede")
    np.testing.assert_allclose(default.grad(xt, q).numpy(), 10 * 0.1 * (1 - np.tanh(0.1 * x / 0.5) ** 2), rtol=1e-12)
    fixed = get_estimator({"name": "ede", "t": 2.0, "k": 3.0})
    np.testing.assert_allclose(fixed.grad(xt, q).numpy(), 6 * (1 - np.tanh(2 * x / 0.5) ** 2), rtol=1e-12)
    sign = get_estimator("approx_sign")
    u = x / 0.5
    np.testing.assert_allclose(sign.grad(xt, q).numpy(), np.where(np.abs(u) <= 1, 2 - 2 * np.abs(u), 0), atol=1e-15)
    uc = np.clip(u, -1, 1)
    np.testing.assert_allclose(sign.value(xt, q).numpy(), 0.5 * (2 * uc - np.sign(uc) * uc * uc), atol=1e-15)
    assert sign.support(q) == (-0.5, 0.5) and sign.kinks(q) == (-0.5, 0.0, 0.5)
    assert not sign.cyclical and not ede.cyclical and get_estimator("htge,k0=1").cyclical


def test_sigmoid_sum_against_yang_et_al():
    q = UniformQuantizer(2, 1.0)
    est = get_estimator({"name": "sigmoid_sum", "temperature": 4.0})
    x = np.linspace(-1.6, 1.6, 33)
    th = np.array([-2 / 3, 0.0, 2 / 3])
    sig = 1 / (1 + np.exp(-4.0 * (x[:, None] - th[None, :]) / (2 / 3)))
    xt = torch.tensor(x, dtype=torch.float64)
    np.testing.assert_allclose(est.grad(xt, q).numpy(), (4.0 * sig * (1 - sig)).sum(1), rtol=1e-12)
    np.testing.assert_allclose(est.value(xt, q).numpy(), -1 + (2 / 3) * sig.sum(1), rtol=1e-12, atol=1e-15)
    assert get_estimator("sigmoid_sum").temperature == 5.0


def test_sigmoid_sum_on_an_asymmetric_layout_and_a_weight_matrix():
    """signed_int levels are not symmetric about 0 (a sign slip in the thresholds shows); a 2-D kernel keeps
    its shape and float32 dtype."""
    q = UniformQuantizer(2, 1.0, "signed_int")  # levels −1, −0.5, 0, 0.5; thresholds −0.75, −0.25, 0.25
    est = get_estimator({"name": "sigmoid_sum", "temperature": 3.0})
    x = np.linspace(-1.2, 0.9, 12).reshape(3, 4)
    sig = 1 / (1 + np.exp(-3.0 * (x[..., None] - np.array([-0.75, -0.25, 0.25])) / 0.5))
    xt = torch.tensor(x, dtype=torch.float32)
    g, v = est.grad(xt, q), est.value(xt, q)
    assert g.shape == (3, 4) and v.shape == (3, 4) and g.dtype == v.dtype == torch.float32
    np.testing.assert_allclose(g.numpy(), (3.0 * sig * (1 - sig)).sum(-1), rtol=1e-5)
    np.testing.assert_allclose(v.numpy(), -1 + 0.5 * sig.sum(-1), rtol=1e-5, atol=1e-6)


def test_ede_schedule_over_a_single_epoch_and_registry_round_trip():
    from stelab.estimators import estimator_spec

    one = get_estimator("ede").at_epoch(1, 1)  # the end of a one-epoch schedule: T_max
    assert (one.t, one.k) == pytest.approx((10.0, 1.0))
    for spec in ({"name": "htge", "k0": 5.5, "outside": "periodic"}, {"name": "pwl", "lo": -0.5, "hi": 0.5},
                 {"name": "ste"}, {"name": "sigmoid_sum", "temperature": 2.0}):
        est = get_estimator(spec)
        assert estimator_spec(est) == {**spec, **({"outside": "zero"} if spec["name"] == "htge" and
                                                  "outside" not in spec else {})}
        assert get_estimator(estimator_spec(est)) == est


def test_htge_sharpness_from_k0_k_or_t():
    q = UniformQuantizer(2, 0.5)
    assert get_estimator({"name": "htge", "k0": 5.5}).sharpness(q) == pytest.approx(5.5 / 0.5 * (1 / 3))
    assert get_estimator({"name": "htge", "k": 3.0}).sharpness(q) == pytest.approx(3.0 * (1 / 3))
    assert get_estimator({"name": "htge", "t": 1.7}).sharpness(q) == 1.7
    dsq = get_estimator({"name": "dsq", "alpha_dsq": 0.2})
    assert dsq.sharpness(q) == pytest.approx(2 * math.atanh(0.8), rel=1e-14)
    assert math.tanh(dsq.sharpness(q) / 2) == pytest.approx(1 - 0.2, rel=1e-14)


def test_pwl_bounds_and_support():
    q = UniformQuantizer(2, 1.0)
    est = get_estimator({"name": "pwl", "lo": -0.5, "hi": 2.0})
    assert est.bounds(q) == (-0.5, 2.0) and est.support(q) == (-0.5, 2.0) and est.kinks(q) == (-0.5, 2.0)
    x = torch.tensor([-0.6, -0.5, 0.0, 2.0, 2.1], dtype=torch.float64)
    assert est.grad(x, q).tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert est.value(x, q).tolist() == [-0.5, -0.5, 0.0, 2.0, 2.0]
    assert get_estimator("pwl").bounds(UniformQuantizer(3, 0.7)) == (-0.7, 0.7)
    assert get_estimator({"name": "pwl", "lo": -0.3}).bounds(q) == (-0.3, 1.0)


def test_estimator_support_and_kinks_that_m_relies_on():
    q = UniformQuantizer(2, 1.0)
    assert get_estimator({"name": "htge", "k0": 5.5}).support(q) == (-1.0, 1.0)
    assert get_estimator({"name": "htge", "k0": 5.5, "outside": "periodic"}).support(q) == (-math.inf, math.inf)
    assert get_estimator("ste").support(q) == (-math.inf, math.inf) and get_estimator("ste").kinks(q) == ()
    assert get_estimator("mad").kinks(q) == (-1.0, 1.0)
    assert tuple(get_estimator({"name": "htge", "k0": 5.5}).kinks(q)) == pytest.approx((-1, -1 / 3, 1 / 3, 1))


def test_quantize_op_backward_is_upstream_times_q_hat_prime():
    q = UniformQuantizer(3, 0.7)
    t = 5.5 / 0.7 * q.delta
    w = torch.linspace(-1.0, 1.0, 61, dtype=torch.float64, requires_grad=True)
    up = torch.linspace(-2, 3, 61, dtype=torch.float64)
    y = quantize(w, q, get_estimator({"name": "htge", "k0": 5.5}))
    y.backward(up)
    np.testing.assert_allclose(w.grad.numpy(), up.numpy() * htge_prime(w.detach().numpy(), 3, 0.7, t), rtol=1e-12)
    for spec in ("ste", "pwl"):
        w2 = w.detach().clone().requires_grad_(True)
        quantize(w2, q, get_estimator(spec)).backward(up)
        mask = np.ones(61) if spec == "ste" else (np.abs(w.detach().numpy()) <= 0.7)
        np.testing.assert_array_equal(w2.grad.numpy(), up.numpy() * mask)


def test_validation_grid_reaches_one_bin_beyond_the_range():
    """A Q̂' that vanishes only on (w_max, w_max + Δ] is still caught (it claims the whole line)."""
    from stelab.estimators.base import Estimator

    class HoleBeyond(Estimator):
        def grad(self, x, q):
            return torch.where((x > 1.2) & (x < 1.5), torch.zeros_like(x), torch.ones_like(x))

    with pytest.raises(ValueError, match="vanishes inside its support"):
        validate_estimator(HoleBeyond(), UniformQuantizer(2, 1.0))


def test_string_spec_values_are_numbers_or_text():
    from stelab.estimators import parse_estimator_spec

    assert parse_estimator_spec(" htge , k0 = 5.5 , outside = periodic ") == {"name": "htge", "k0": 5.5,
                                                                             "outside": "periodic"}
    assert parse_estimator_spec("ste") == {"name": "ste"}
    assert parse_estimator_spec("m:f,expr=a=b") == {"name": "m:f", "expr": "a=b"}  # split at the first '='


@pytest.mark.parametrize("spec, message", [
    ({"name": "pwl", "lo": 0.5, "hi": 0.5}, r"^pwl: lo must be < hi, got lo=0.5, hi=0.5$"),
    ({"name": "htge", "k0": 1.0, "outside": "wrap"}, r"^htge: outside must be 'zero' or 'periodic', got 'wrap'$"),
    ({"k0": 1.0}, r"^estimator spec must be a name or a mapping with 'name', got \{'k0': 1.0\}$"),
    ({"name": "pwl", "width": 1.0}, r"^estimator 'pwl': bad parameters \['width'\]; allowed: \['hi', 'lo'\]$"),
])
def test_estimator_construction_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        get_estimator(spec)


# --- quantizers: layouts, indices, dtypes -----------------------------------------------------


@pytest.mark.parametrize("layout, bits, m, levels", [
    ("range", 3, 0.7, -0.7 + 0.2 * np.arange(8)),
    ("signed_int", 3, 1.0, 0.25 * np.arange(-4, 4)),
    ("midtread", 3, 0.9, 0.3 * np.arange(-3, 4)),
    ("range", 1, 2.0, np.array([-2.0, 2.0])),
])
def test_quantizer_levels_thresholds_index_and_describe(layout, bits, m, levels):
    q = UniformQuantizer(bits, m, layout)
    np.testing.assert_allclose(q.levels, levels, rtol=0, atol=1e-15)
    th = (levels[:-1] + levels[1:]) / 2
    np.testing.assert_allclose(q.thresholds, th, rtol=0, atol=1e-15)
    assert q.n_levels == len(levels)
    x = np.concatenate([levels, th + 1e-9, th - 1e-9, [levels[0] - 5, levels[-1] + 5]])
    expected_index = np.abs(x[:, None] - levels[None, :]).argmin(1)
    idx = q.index(x)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx, expected_index)
    np.testing.assert_array_equal(q.index(torch.tensor(x)).numpy(), expected_index)
    np.testing.assert_allclose(q(x), levels[expected_index], rtol=0, atol=1e-15)
    # bins are closed on the left: a weight exactly on a threshold belongs to the bin above
    on = torch.tensor(q.thresholds, dtype=torch.float32)
    np.testing.assert_array_equal(q.bin_index(on).numpy(), np.arange(1, len(levels)))
    np.testing.assert_array_equal(q.bin_index(q.thresholds), np.arange(1, len(levels)))
    below = torch.tensor(th - 1e-6, dtype=torch.float32)
    np.testing.assert_array_equal(q.bin_index(below).numpy(), np.arange(0, len(levels) - 1))
    assert q.describe() == {"bits": bits, "m": m, "layout": layout, "delta": pytest.approx(levels[1] - levels[0]),
                            "w_min": pytest.approx(levels[0]), "w_max": pytest.approx(levels[-1]),
                            "n_levels": len(levels)}


def test_quantizer_accepts_its_smallest_valid_arguments():
    assert UniformQuantizer(2, 1.0, "midtread").n_levels == 3
    assert UniformQuantizer(1, 1e-12).delta == pytest.approx(2e-12)
    with pytest.raises(ValueError, match="m .*positive"):
        UniformQuantizer(2, 0.0)
    with pytest.raises(ValueError, match="m .*positive"):
        UniformQuantizer(2, math.inf)
    with pytest.raises(ValueError, match="bits"):
        UniformQuantizer(2.0, 1.0)
    assert UniformQuantizer(np.int64(3), 1.0).n_levels == 8
    with pytest.raises(ValueError, match=r"^the midtread layout needs bits >= 2"):
        UniformQuantizer(1, 1.0, "midtread")
    with pytest.raises(ValueError, match=r"^fan_in must be >= 1, got 0$"):
        he_uniform_bound(0)
    assert he_uniform_bound(1) == pytest.approx(math.sqrt(6.0))
    assert he_uniform_bound(24) == pytest.approx(0.5)


def test_quantizer_keeps_torch_dtype_and_float64_numpy():
    q = UniformQuantizer(2, 1.0)
    for dtype in (torch.float32, torch.float64, torch.bfloat16):
        x = torch.linspace(-2, 2, 9, dtype=dtype)
        assert q(x).dtype == dtype and q.bin_index(x).dtype == torch.int64 and q.index(x).dtype == torch.int64
    assert q(np.linspace(-2, 2, 9)).dtype == np.float64
