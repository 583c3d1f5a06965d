"""Case specs resolved from the theory: section, and validate_theory's errors naming the key."""

import json
import re

import pytest
import yaml

from stelab.config.names import check_theory_names
from stelab.theory.experiments import validate_theory

THEORY = {
    "model": {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0},
              "input_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}, "eta": 0.1},
    "experiments": {
        "plateau": {"tau_max": 6.0, "omegas": [1.5],
                    "model": {"init": {"std": 0.1}, "input_map": {"kind": "identity"}}},
        "curves": {"cases": {"b2_w1.5": {"weight_map": {"omega": 1.5}}}},
    },
}


def test_validate_theory_names_the_key():
    validate_theory(THEORY)
    bad = json.loads(json.dumps(THEORY))
    bad["experiments"]["plateau"]["model"]["surrogate"] = "derivative"
    with pytest.raises(ValueError, match=r"theory.experiments.plateau\[w1.5\].model.surrogate"):
        validate_theory(bad)


@pytest.mark.parametrize("name", ["a/b", "a b", "", "ω2", 3])
def test_case_names_must_be_plain(name):
    bad = json.loads(json.dumps(THEORY))
    bad["experiments"]["curves"]["cases"] = {name: {}}
    with pytest.raises(ValueError, match=r"^config key theory\.experiments\.curves\.cases: " + re.escape(repr(name))):
        check_theory_names(bad)


def test_config_error_names_the_case_key():
    # Through stelab.config, as the Snakefile and the CLI validate a config: a ConfigError naming the key
    # (before any rule could turn the name into a path).
    from helpers import REPO

    from stelab.config import ConfigError, validate_config

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["theory"]["experiments"]["variants"]["cases"]["a/b"] = {}
    with pytest.raises(ConfigError, match=r"config key theory\.experiments\.variants\.cases: 'a/b'"):
        validate_config(cfg)
