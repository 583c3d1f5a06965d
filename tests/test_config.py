"""Config validation: bad values fail before any job runs, and the message names the key."""

import copy

import pytest
import yaml

from helpers import REPO, snakemake
from stelab.config import ConfigError, load_config, merge_overlay, validate_config


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
    assert load_config(REPO / "config" / "config.yaml")["constants"]["layers"][0]["layout"] == "range"  # default
    for name in ("smoke.yaml", "paper.yaml"):
        cfg = load_config(REPO / "config" / "config.yaml", REPO / "config" / name)
        assert cfg["qat"]["quantize"]["bits"] == 2


@pytest.mark.parametrize("name", ["smoke.yaml", "paper.yaml", "imagenet.yaml"])
def test_overlays_hold_only_what_differs(name):
    """Every leaf of an overlay changes the default: nothing is restated."""
    with open(REPO / "config" / "config.yaml") as fh:
        base = yaml.safe_load(fh)
    with open(REPO / "config" / name) as fh:
        overlay = yaml.safe_load(fh)

    def restated(b, o, path):
        for key, value in o.items():
            if isinstance(value, dict) and isinstance(b.get(key), dict):
                yield from restated(b[key], value, f"{path}{key}.")
            elif key in b and b[key] == value:
                yield f"{path}{key}"

    assert list(restated(base, overlay, "")) == []


def test_merge_matches_snakemake():
    from snakemake.utils import update_config

    for name in ("smoke.yaml", "paper.yaml", "imagenet.yaml"):
        with open(REPO / "config" / "config.yaml") as fh:
            base = yaml.safe_load(fh)
        with open(REPO / "config" / name) as fh:
            overlay = yaml.safe_load(fh)
        ours = merge_overlay(base, overlay)
        update_config(base, overlay)
        assert ours == base


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.yaml"):
        load_config(tmp_path / "nothere.yaml")


@pytest.mark.parametrize(
    "key, value, pattern",
    [("qat.estimator.name", "bogus", "qat.estimator"), ("qat.optimizers.adam.lr", -1.0, "qat.optimizers.adam.lr"),
     ("data.source", "folder", "data.folder")],
)
def test_snakemake_refuses_bad_config_before_running(repo_copy, smoke_cfg, key, value, pattern, tmp_path):
    """A real run (not a dry run, which writes nothing either way): the config check stops Snakemake before it
    builds the DAG, so no job starts and nothing is written under results/ or report/."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_set(smoke_cfg, key, value)))

    def outputs():
        return {p for d in ("results", "report") for p in (repo_copy / d).rglob("*") if p.is_file()}

    before = outputs()
    proc = snakemake(repo_copy, "--cores", "1", "--configfile", str(bad))
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert pattern in log
    assert "Building DAG of jobs" not in log and "localrule" not in log and "\nrule " not in log, log[-2000:]
    assert outputs() == before


def test_missing_dataset_folder_is_named(repo_copy, smoke_cfg, tmp_path):
    cfg = _set(_set(smoke_cfg, "data.source", "folder"), "data.folder", str(tmp_path / "no-mnist-here"))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    proc = snakemake(repo_copy, "-n", "--cores", "1", "--configfile", str(bad))
    assert proc.returncode != 0
    assert "no-mnist-here" in proc.stdout + proc.stderr


SEMANTIC = [
    ("qat.optimizers.momentum.lr", "1e-3", r"momentum\.lr.*YAML reads '1e-3' as a string.*write it 1\.0e-3 "),
    ("report.kernel", "$(touch pwned)python3", r"report\.kernel.*may only hold"),
    ("qat.extra_bits", [{"bits": 2, "estimator": "htge"}], r"qat\.extra_bits\[0\]\.bits: 2 is qat\.quantize\.bits"),
    ("qat.lr_sweep.factors", [0.5, 0.5000000001], r"qat\.lr_sweep\.factors.*both give the folder lr0\.5"),
    ("qat.lr_sweep.optimizers", ["sgd"], r"qat\.lr_sweep\.optimizers: 'sgd' is not a key of qat\.optimizers"),
    ("qat.variants.adam", ["ste", "lrtweak"], r"qat\.variants\.adam.*lacks 'qhat'"),
    ("qat.optimizers.rmsprop", {"lr": 0.1}, r"qat\.optimizers.*'rmsprop'"),
    ("qat.variants.momentum", ["qhat", "bogus"], r"qat\.variants\.momentum\.1.*'bogus' is not allowed"),
    ("qat.estimator", {"name": "pwl", "k0": 5.5}, r"qat\.estimator.*k0.*write the estimator as a string"),
    ("qat.estimator", {"name": "mad", "s": -1.0}, r"qat\.estimator.*\bs\b"),
    ("theory.experiments.curves.cases", {"a/b": {}}, r"theory\.experiments\.curves\.cases.*'a/b'"),
    ("qat.warmup_frac", float("nan"), r"qat\.warmup_frac: nan is not a finite number"),
    ("qat.lr_sweep.factors", [0.5, float("inf")], r"qat\.lr_sweep\.factors\[1\]: inf is not a finite number"),
]


@pytest.mark.parametrize("key, value, pattern", SEMANTIC, ids=[k for k, _, _ in SEMANTIC])
def test_semantic_checks_name_the_key(smoke_cfg, key, value, pattern):
    with pytest.raises(ConfigError, match=pattern):
        validate_config(_set(smoke_cfg, key, value))


def test_gpu_jobs_need_a_cpu_per_loader_worker(smoke_cfg):
    cfg = _set(_set(_set(smoke_cfg, "qat.gpu", 1), "qat.workers", 4), "qat.threads", 4)
    with pytest.raises(ConfigError, match=r"qat\.threads: 4 .*qat\.workers = 4.*>= 5"):
        validate_config(cfg)
    validate_config(_set(cfg, "qat.threads", 5))


def test_string_estimator_replaces_the_default_whole(smoke_cfg):
    assert validate_config(_set(smoke_cfg, "qat.estimator", "pwl"))["qat"]["estimator"] == "pwl"
    assert validate_config(_set(smoke_cfg, "qat.estimator", "htge,k0=2.0"))["qat"]["estimator"] == "htge,k0=2.0"
    with pytest.raises(ConfigError, match=r"qat\.estimator.*k0 must be > 0"):
        validate_config(_set(smoke_cfg, "qat.estimator", "htge,k0=-2"))


def test_qat_section_from_the_command_line_is_validated(smoke_cfg):
    from stelab.config import validate_section

    qat = validate_section("qat", smoke_cfg["qat"])
    assert qat["warmup_frac"] == 0.02  # defaults filled in
    with pytest.raises(ConfigError, match=r"config key qat\.epochs: 0 is less than the minimum of 1"):
        validate_section("qat", {**smoke_cfg["qat"], "epochs": 0})
    with pytest.raises(ConfigError, match=r"^config key qat\.batch_size: '64' is a string, expected integer; "):
        validate_section("qat", {**smoke_cfg["qat"], "batch_size": "64"})
