import math

import pytest
import torch

from stelab.estimators import REGISTRY, UserEstimator, get_estimator, quantize, validate_estimator
from stelab.quantizers import UniformQuantizer

MULTIBIT = [
    "ste",
    "pwl",
    {"name": "htge", "k0": 5.5},
    {"name": "htge", "k0": 5.5, "outside": "periodic"},
    {"name": "dsq", "alpha_dsq": 0.2},
    "mad",
    {"name": "sigmoid_sum", "temperature": 5.0},
    {"name": "user_estimators:soft_staircase", "kind": "value"},
]
BINARY = ["ede", "approx_sign"]


def _ids(spec):
    if isinstance(spec, bool):
        return "everywhere" if spec else "range-only"
    return spec if isinstance(spec, str) else "-".join(f"{v}" for v in spec.values())


def _autograd_derivative(est, q, x):
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(est.value(xr, q).sum(), xr)
    return g


@pytest.mark.parametrize("spec", MULTIBIT + BINARY, ids=_ids)
def test_grad_is_the_derivative_of_value(spec):
    est = get_estimator(spec)
    q = UniformQuantizer(1 if spec in BINARY else 2, 0.8)
    x = torch.linspace(-1.3, 1.3, 2003, dtype=torch.float64)
    away = torch.ones_like(x, dtype=torch.bool)
    for k in list(est.kinks(q)) + [lo for lo in est.support(q) if math.isfinite(lo)]:
        away &= (x - k).abs() > 1e-6
    torch.testing.assert_close(est.grad(x, q)[away], _autograd_derivative(est, q, x)[away], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("spec", [s for s in MULTIBIT if s != {"name": "sigmoid_sum", "temperature": 5.0}], ids=_ids)
def test_cyclical_estimators_repeat_on_every_inner_bin(spec):
    est = get_estimator(spec)
    q = UniformQuantizer(3, 1.0)
    th = q.thresholds
    ref = torch.linspace(th[0], th[1], 257, dtype=torch.float64)
    for j in range(1, len(th) - 1):
        torch.testing.assert_close(est.grad(ref + j * q.delta, q), est.grad(ref, q), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "spec, everywhere",
    [("ste", True), ("mad", True), ("ede", True), ({"name": "sigmoid_sum", "temperature": 5.0}, True),
     ({"name": "htge", "k0": 5.5, "outside": "periodic"}, True), ({"name": "htge", "k0": 5.5}, False),
     ("pwl", False), ("approx_sign", False)],
    ids=_ids,
)
def test_positivity_where_claimed(spec, everywhere):
    est = get_estimator(spec)
    q = UniformQuantizer(2, 1.0)
    inside = torch.linspace(-0.999, 0.999, 1001, dtype=torch.float64)
    outside = torch.cat([torch.linspace(-5, -1.001, 100), torch.linspace(1.001, 5, 100)]).double()
    assert (est.grad(inside, q) > 0).all()
    assert bool((est.grad(outside, q) > 0).all()) == everywhere


def test_htge_matches_the_paper_formula():
    q = UniformQuantizer(2, 0.5)
    est = get_estimator({"name": "htge", "k0": 5.5})
    t = 5.5 / 0.5 * q.delta
    tau = float(q.thresholds[1])
    x = torch.linspace(tau - q.delta / 2, tau + q.delta / 2, 101, dtype=torch.float64)[1:-1]
    expected = (t / 2) / math.tanh(t / 2) / torch.cosh(t * (x - tau) / q.delta) ** 2
    torch.testing.assert_close(est.grad(x, q), expected)


def test_ede_schedule_follows_qin_et_al():
    est = get_estimator("ede")
    first, last = est.at_epoch(0, 10), est.at_epoch(10, 10)
    assert (first.t, first.k) == pytest.approx((0.1, 10.0))
    assert (last.t, last.k) == pytest.approx((10.0, 1.0))
    mid = est.at_epoch(5, 10)
    assert mid.t == pytest.approx(1.0) and mid.k == pytest.approx(1.0)


def test_quantize_op_forward_is_q_and_backward_uses_the_estimator():
    q = UniformQuantizer(2, 1.0)
    est = get_estimator({"name": "htge", "k0": 5.5})
    for dtype in (torch.float32, torch.float64):
        w = torch.linspace(-1.2, 1.2, 50, dtype=dtype, requires_grad=True)
        y = quantize(w, q, est)
        assert y.dtype == dtype and torch.equal(y.detach(), q(w.detach()))
        upstream = torch.arange(50, dtype=dtype)
        y.backward(upstream)
        torch.testing.assert_close(w.grad, upstream * est.grad(w.detach(), q))


def test_user_estimator_by_dotted_path():
    est = get_estimator({"name": "user_estimators:raised_cosine", "depth": 0.25})
    assert isinstance(est, UserEstimator)
    q = UniformQuantizer(2, 1.0)
    assert float(est.grad(torch.tensor([q.thresholds[0]], dtype=torch.float64), q)) == pytest.approx(0.75)


@pytest.mark.parametrize(
    "spec, match",
    [("nope", "unknown estimator 'nope'.*allowed"), ({"name": "htge"}, "exactly one of k0, k, t"),
     ({"name": "htge", "k0": 1, "sharp": 2}, "bad parameters.*allowed"),
     ("no_such_module_xyz:fn", "cannot import"), ({"name": "dsq", "alpha_dsq": 1.5}, "alpha_dsq")],
)
def test_bad_estimators_fail_with_a_clear_message(spec, match):
    with pytest.raises(ValueError, match=match):
        get_estimator(spec)


def test_registry_has_every_estimator_of_paper_a():
    assert set(REGISTRY) == {"ste", "pwl", "htge", "dsq", "mad", "ede", "approx_sign", "sigmoid_sum"}


# --- parameter ranges and validation -------------------------------------------------------


@pytest.mark.parametrize(
    "spec, message",
    [({"name": "htge", "k0": -1}, "htge: k0 must be > 0, got -1"),
     ({"name": "htge", "k": 0}, "htge: k must be > 0, got 0"),
     ({"name": "htge", "t": math.nan}, "htge: t must be > 0, got nan"),
     ({"name": "mad", "s": -1.0}, "mad: s must be > 0, got -1"),
     ({"name": "mad", "s": "wide"}, "mad: s must be > 0, got 'wide'"),
     ({"name": "pwl", "lo": 1.0, "hi": -1.0}, "pwl: lo must be < hi, got lo=1, hi=-1"),
     ({"name": "pwl", "hi": math.inf}, "pwl: hi must be a finite number, got inf"),
     ({"name": "sigmoid_sum", "temperature": 0.0}, "sigmoid_sum: temperature must be > 0, got 0"),
     ({"name": "dsq", "alpha_dsq": 1.5}, r"dsq: alpha_dsq must be in \(0, 1\), got 1.5"),
     ({"name": "dsq", "alpha_dsq": 0.0}, r"dsq: alpha_dsq must be in \(0, 1\), got 0"),
     ({"name": "ede", "t_min": -0.1}, "ede: t_min must be > 0, got -0.1"),
     ({"name": "ede", "t": 1.0}, "ede: give both t and k or neither")],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{x}" for x in v.values()),
)
def test_registry_parameters_outside_their_range_are_rejected(spec, message):
    with pytest.raises(ValueError, match=f"^{message}"):
        get_estimator(spec)


@pytest.mark.parametrize("spec", MULTIBIT + ["user_estimators:raised_cosine", "user_estimators:step_dip"], ids=_ids)
@pytest.mark.parametrize("bits, layout", [(1, "range"), (2, "range"), (4, "signed_int"), (8, "range"), (3, "midtread")])
def test_every_shipped_estimator_is_valid(spec, bits, layout):
    est = validate_estimator(spec, UniformQuantizer(bits, 0.7, layout))
    assert est == get_estimator(spec)


@pytest.mark.parametrize("spec", BINARY)
def test_binary_estimators_are_valid_on_one_bit(spec):
    assert validate_estimator(spec, UniformQuantizer(1, 0.7)).name == spec


@pytest.mark.parametrize(
    "spec, message",
    [("user_estimators:nan_inside", r"user_estimators:nan_inside.*2-bit range.*not finite: Q̂'\(.*\) = nan"),
     ("user_estimators:inf_at_threshold", r"user_estimators:inf_at_threshold.*not finite: Q̂'\(-0.5\) = inf"),
     ("user_estimators:negative_dip", r"user_estimators:negative_dip.*negative: Q̂'\(.*\) = -"),
     ("user_estimators:zero_on_cells", r"user_estimators:zero_on_cells.*vanishes inside its support \(-inf, inf\)"),
     ("user_estimators:scalar_one", r"user_estimators:scalar_one.*returned shape \(\).*elementwise"),
     ({"name": "pwl", "lo": -0.2, "hi": 0.2}, r"pwl\(lo=-0.2, hi=0.2\).*vanishes inside the representable range"),
     ({"name": "user_estimators:mirrored", "kind": "value"},
      r"user_estimators:mirrored\(kind=value\).*negative: Q̂'\(.*\) = -1")],
    ids=lambda v: v if isinstance(v, str) else "-".join(f"{x}" for x in v.values()),
)
def test_invalid_estimators_are_rejected_naming_the_estimator(spec, message):
    with pytest.raises(ValueError, match=message):
        validate_estimator(spec, UniformQuantizer(2, 0.75))


def test_validation_looks_beyond_the_representable_range():
    """htge with ``outside: zero`` is valid (it claims only the range); a user estimator claims the whole line."""
    q = UniformQuantizer(2, 1.0)
    validate_estimator({"name": "htge", "k0": 5.5}, q)
    message = r"user_estimators:zero_outside.*vanishes inside its support.*Q̂'\(-1\.66667\) = 0"
    with pytest.raises(ValueError, match=message):
        validate_estimator("user_estimators:zero_outside", q)


def test_string_spec_carries_parameters():
    """The config's string form replaces an estimator whole and still takes parameters."""
    est = get_estimator("htge,k0=2.0,outside=periodic")
    assert (est.name, est.k0, est.outside) == ("htge", 2.0, "periodic")
    assert get_estimator("pwl,lo=-0.5,hi=0.5").lo == -0.5
    with pytest.raises(ValueError, match=r"parameter 'k0' is not key=value"):
        get_estimator("htge,k0")
    with pytest.raises(ValueError, match=r"k0 must be > 0"):
        get_estimator("htge,k0=-1")
