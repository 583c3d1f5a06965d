"""Unusable estimators: rejected by the config check (parameters; the constants' estimators on their
layers) or, for what only shows on a QAT layer's real range m, when the model is built, naming the
key and the parameter."""

import copy

import pytest
import torch
from fault_chain import Chain, assert_nothing_complete, qat_json

from stelab.config import ConfigError, validate_config


BAD_CONFIG = [
    ("qat.estimator", "htge,k0=-1", {"name": "htge", "k0": -1}, r"qat\.estimator: htge: k0 must be > 0"),
    ("qat.estimator", "pwl lo > hi", {"name": "pwl", "lo": 0.5, "hi": 0.1}, r"qat\.estimator: pwl: lo must be < hi"),
    ("qat.estimator", "mad s=0", {"name": "mad", "s": 0}, r"qat\.estimator: mad: s must be > 0"),
    ("qat.estimator", "sigmoid_sum T<0", {"name": "sigmoid_sum", "temperature": -2.0},
     r"qat\.estimator: sigmoid_sum: temperature must be > 0"),
    ("qat.extra_bits", "unknown extra", [{"bits": 4, "estimator": "htge_typo"}],
     r"qat\.extra_bits\[0\]\.estimator: unknown estimator 'htge_typo'"),
]


@pytest.mark.parametrize("key, case, value, pattern", BAD_CONFIG, ids=[c[1] for c in BAD_CONFIG])
def test_bad_estimator_in_config_names_the_key(smoke_cfg, key, case, value, pattern):
    cfg = copy.deepcopy(smoke_cfg)
    cfg["qat"][key.split(".")[1]] = value
    with pytest.raises(ConfigError, match=pattern):
        validate_config(cfg)


def test_constants_estimator_vanishing_inside_the_range_names_the_key(smoke_cfg):
    """The constants table's layers have a known range m, so the grid check runs before any job."""
    cfg = copy.deepcopy(smoke_cfg)
    cfg["constants"]["estimators"]["pwl_narrow"] = {"name": "pwl", "lo": 0.5, "hi": 0.9}
    with pytest.raises(ConfigError, match=r"constants\.estimators\.pwl_narrow: .*vanishes inside the representable range"):
        validate_config(cfg)


def test_estimator_unusable_on_a_real_layer_fails_when_the_model_is_built(tmp_path, mnist, capsys):
    """Passes the unit-quantizer check (m = 1), vanishes on conv2 (m = sqrt(6/288) ≈ 0.144)."""
    chain = Chain(tmp_path, mnist, qat_json(estimator="fault_estimators:vanishes_on_narrow_layers"))
    assert chain.pretrain() == 2
    err = capsys.readouterr().err
    assert "qat.estimator (or the qat.extra_bits entry for 2 bits): parameter conv2.weight of the qhat run" in err
    assert "m=0.144338" in err and "vanishes" in err
    assert_nothing_complete(chain.pre, chain.pre_ckpt)


def test_branch_checkpoint_with_an_unusable_layer_estimator_names_file_and_layer(tmp_path, mnist, capsys):
    chain = Chain(tmp_path, mnist)
    assert chain.pretrain() == 0 and chain.fork() == 0
    ckpt = torch.load(chain.init, weights_only=True)
    ckpt["run"]["estimators"]["conv3.weight"] = {"name": "pwl", "lo": 0.0, "hi": 0.05}
    torch.save(ckpt, chain.init)
    assert chain.branch() == 2
    err = capsys.readouterr().err
    assert f"checkpoint {chain.init}: qat.estimator" in err and "parameter conv3.weight" in err
    assert_nothing_complete(*chain.outputs, chain.branch_ckpt)
