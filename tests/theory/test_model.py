"""Model constants a, c and the initial error ε(0), against closed forms and reference values."""

import math

import pytest

from stelab.theory.model import Model

Q22 = {"kind": "quantizer", "bits": 2, "omega": 2.0, "layout": "range"}


def test_constants_b2_omega2_midrise():
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22})
    assert round(m.a, 5) == 0.96928
    assert round(m.c, 5) == 1.09306


def test_initial_error_density_figure_setting():
    m = Model.from_spec({"weight_map": Q22, "input_map": Q22, "eta": 0.1,
                         "init": {"kind": "normal", "mean": 0.0, "std": 1.0},
                         "teacher": {"kind": "constant", "value": 1.0}})
    assert round(m.initial_error(), 4) == 2.1948


def test_unquantized_constants_are_one():
    m = Model.from_spec({})
    assert m.a == pytest.approx(1.0, abs=1e-10) and m.c == pytest.approx(1.0, abs=1e-10)


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
