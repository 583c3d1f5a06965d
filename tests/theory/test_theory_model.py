"""Constants a, c and the error formula of spec B §2, against the spec's numbers and direct integrals."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from stelab.theory.maps import ElementMap
from stelab.theory.model import Model

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0, "layout": "range"}


def test_constants_b2_omega2_midrise_match_spec():
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22})
    assert round(m.a, 5) == 0.96928
    assert round(m.c, 5) == 1.09306


def test_initial_error_density_figure_setting():
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22, "eta": 0.1,
                         "init": {"kind": "normal", "mean": 0.0, "std": 1.0}, "teacher": {"kind": "constant", "value": 1.0}})
    assert round(m.initial_error(), 4) == 2.1948


def test_unquantized_constants_are_one():
    m = Model.from_spec({})
    assert m.a == pytest.approx(1.0, abs=1e-10) and m.c == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize("spec", [
    {"kind": "quantizer", "bits": 3, "omega": 1.5, "layout": "midtread"},
    {"kind": "quantizer", "bits": 1, "omega": 1.0, "layout": "range"},
    {"kind": "tanh", "scale": 1.3},
])
def test_constants_match_direct_quadrature(spec):
    h = ElementMap.from_spec(spec)
    pts = list(h.thresholds) if h.is_step else None
    ea = integrate.quad(lambda x: x * float(h(np.array(x))) * stats.norm.pdf(x), -12, 12, points=pts, limit=400)[0]
    ec = integrate.quad(lambda x: float(h(np.array(x))) ** 2 * stats.norm.pdf(x), -12, 12, points=pts, limit=400)[0]
    mean_h, a, c = h.gaussian_moments()
    assert a == pytest.approx(ea, abs=1e-8) and c == pytest.approx(ec, abs=1e-8) and abs(mean_h) < 1e-9


def test_one_bit_constants_closed_form():
    # h = ω·sign(x): a = ω·E|x| = ω·sqrt(2/π), c = ω²
    m = Model.from_spec({"input_map": {"kind": "quantizer", "bits": 1, "omega": 1.5}})
    assert m.a == pytest.approx(1.5 * math.sqrt(2 / math.pi), abs=1e-12)
    assert m.c == pytest.approx(2.25, abs=1e-12)


def test_nonzero_mean_input_map_is_rejected():
    with pytest.raises(ValueError, match="input_map"):
        Model.from_spec({"input_map": {"kind": "quantizer", "bits": 2, "omega": 1.0, "layout": "signed_int"}})


def test_bad_keys_name_the_key():
    with pytest.raises(ValueError, match="eta"):
        Model.from_spec({"eta": -0.1})
    with pytest.raises(ValueError, match="weight_map"):
        Model.from_spec({"weight_map": {"kind": "nope"}})
    with pytest.raises(ValueError, match="surrogate"):
        Model.from_spec({"weight_map": Q22, "surrogate": "derivative"})


def test_half_error_normalisation_scales_outputs():
    assert Model.from_spec({"error": "half"}).error_scale == 0.5


def test_user_callable_map_matches_builtin_tanh():
    user = Model.from_spec({"input_map": {"kind": "callable", "path": "numpy:tanh"}})
    builtin = Model.from_spec({"input_map": {"kind": "tanh", "scale": 1.0}})
    assert user.a == pytest.approx(builtin.a, abs=1e-10) and user.c == pytest.approx(builtin.c, abs=1e-10)


def test_gaussian_teacher_rho_is_exact():
    m = Model.from_spec({"teacher": {"kind": "gaussian", "mean": 0.5, "std": 2.0, "nodes": 7}})
    assert m.rho == pytest.approx(0.25 + 4.0)
    assert float(m.teacher.probs @ m.teacher.values**2) == pytest.approx(4.25, rel=1e-12)
