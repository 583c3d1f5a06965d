"""Config validation: bad values fail before any job runs, and the message names the key."""

import copy

import pytest
import yaml

from helpers import REPO, snakemake
from stelab.config import ConfigError, load_config, validate_config


@pytest.fixture(scope="module")
def smoke_cfg():
    with open(REPO / "config" / "smoke.yaml") as fh:
        return yaml.safe_load(fh)


def _set(cfg, dotted, value):
    cfg = copy.deepcopy(cfg)
    node = cfg
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return cfg


BAD = [
    ("qat.estimator.name", "no_such_estimator", r"qat\.estimator.*unknown estimator 'no_such_estimator'.*allowed"),
    ("constants.estimators.htge.name", "nope", r"constants\.estimators\.htge.*allowed"),
    ("qat.quantize.bits", 0, r"qat\.quantize\.bits"),
    ("constants.layers.0.bits", 0, r"constants\.layers\.0\.bits"),
    ("qat.optimizers.momentum.lr", -0.1, r"qat\.optimizers\.momentum\.lr"),
    ("constants.layers.0.bits", "two", r"constants\.layers\.0\.bits.*wrong type"),
    ("qat.epochs", "many", r"qat\.epochs"),
    ("constants.layers.0.layout", "log", r"constants\.layers\.0\.layout.*allowed values"),
    ("report.colour", "red", r"report.*colour"),
]


@pytest.mark.parametrize("key, value, pattern", BAD, ids=[f"{k}={v}" for k, v, _ in BAD])
def test_bad_values_name_the_key(smoke_cfg, key, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        validate_config(_set(smoke_cfg, key, value))


def test_shipped_configs_are_valid():
    for name in ("config.yaml", "smoke.yaml", "paper.yaml"):
        cfg = load_config(REPO / "config" / name)
        assert cfg["constants"]["layers"][0]["layout"] == "range"  # default filled in


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.yaml"):
        load_config(tmp_path / "nothere.yaml")


@pytest.mark.parametrize(
    "key, value, pattern",
    [("qat.estimator.name", "bogus", "qat.estimator"), ("qat.optimizers.adam.lr", -1.0, "qat.optimizers.adam.lr"),
     ("data.source", "folder", "data.folder")],
)
def test_snakemake_refuses_bad_config_before_running(repo_copy, smoke_cfg, key, value, pattern, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_set(smoke_cfg, key, value)))
    proc = snakemake(repo_copy, "-n", "--cores", "1", "--configfile", str(bad))
    assert proc.returncode != 0
    assert pattern in proc.stdout + proc.stderr
    assert not (repo_copy / "results").exists() or not any((repo_copy / "results").rglob("*.pt"))


def test_missing_dataset_folder_is_named(repo_copy, smoke_cfg, tmp_path):
    cfg = _set(_set(smoke_cfg, "data.source", "folder"), "data.folder", str(tmp_path / "no-mnist-here"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = snakemake(repo_copy, "-n", "--cores", "1", "--configfile", str(bad))
    assert proc.returncode != 0
    assert "no-mnist-here" in proc.stdout + proc.stderr
