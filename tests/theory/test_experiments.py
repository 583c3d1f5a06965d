"""Case specs resolved from the theory: section, and validate_theory's errors naming the key."""

import json

import pytest

from stelab.theory.experiments import validate_theory

THEORY = {
    "model": {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0},
              "input_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}, "eta": 0.1},
    "experiments": {
        "plateau": {"tau_max": 6.0, "omegas": [1.5], "model": {"init": {"std": 0.1}, "input_map": {"kind": "identity"}}},
        "curves": {"cases": {"b2_w1.5": {"weight_map": {"omega": 1.5}}}},
    },
}


def test_validate_theory_names_the_key():
    validate_theory(THEORY)
    bad = json.loads(json.dumps(THEORY))
    bad["experiments"]["plateau"]["model"]["surrogate"] = "derivative"
    with pytest.raises(ValueError, match=r"theory.experiments.plateau\[w1.5\].model.surrogate"):
        validate_theory(bad)
