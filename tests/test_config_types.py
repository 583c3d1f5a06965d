"""Config types: integers are integers, numbers given as strings get advice that works, a conditionally
required key says when it is required, and a bad config stops Snakemake with one line."""

import copy

import pytest
import yaml

from helpers import snakemake
from stelab.config import ConfigError, validate_config, validate_qat_job, validate_section


def _set(cfg, dotted, value):
    cfg = copy.deepcopy(cfg)
    node = cfg
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    node[last] = value
    return cfg


INTEGRAL_FLOATS = [
    ("qat.threads", 2.0, "config key qat.threads: 2.0 is not an integer (write 2)"),
    ("qat.seeds", [1000.0], "config key qat.seeds.0: 1000.0 is not an integer (write 1000)"),
    ("qat.epochs", 2.0, "config key qat.epochs: 2.0 is not an integer (write 2)"),
    ("qat.batch_size", 64.0, "config key qat.batch_size: 64.0 is not an integer (write 64)"),
    ("constants.layers.0.bits", 2.0, "config key constants.layers.0.bits: 2.0 is not an integer (write 2)"),
    ("data.synthetic.n_train", 100.0, "config key data.synthetic.n_train: 100.0 is not an integer (write 100)"),
    ("theory.sim.seeds", [0, 3.0], "config key theory.sim.seeds.1: 3.0 is not an integer (write 3)"),
    ("qat.epochs", 2.5, "config key qat.epochs: 2.5 is not an integer"),
]


@pytest.mark.parametrize("key, value, message", INTEGRAL_FLOATS, ids=[f"{k}={v}" for k, v, _ in INTEGRAL_FLOATS])
def test_a_float_is_not_an_integer(smoke_cfg, key, value, message):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(smoke_cfg, key, value))
    assert str(info.value) == message


def test_command_line_sections_refuse_integral_floats(smoke_cfg):
    with pytest.raises(ConfigError, match=r"^config key qat\.threads: 2\.0 is not an integer \(write 2\)$"):
        validate_section("qat", {**smoke_cfg["qat"], "threads": 2.0})
    with pytest.raises(ConfigError, match=r"^config key qat\.epochs: 3\.0 is not an integer \(write 3\)$"):
        validate_qat_job({**smoke_cfg["qat"], "epochs": 3.0})


def test_integers_still_pass_where_numbers_are_expected(smoke_cfg):
    cfg = validate_config(_set(smoke_cfg, "qat.optimizers.momentum.lr", 1))
    assert cfg["qat"]["optimizers"]["momentum"]["lr"] == 1


def test_integer_given_as_a_string_gets_configfile_advice_not_float_advice(smoke_cfg):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(smoke_cfg, "qat.epochs", "3"))
    message = str(info.value)
    assert message.startswith("config key qat.epochs: '3' is a string, expected integer; ")
    assert "--config passes the values inside a nested mapping" in message
    assert "--configfile" in message and "written 3 (no quotes)" in message
    assert "3.0" not in message and "e+00" not in message


def test_precise_number_given_as_a_string_is_spelled_back_exactly(smoke_cfg):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(smoke_cfg, "qat.optimizers.momentum.lr", "1.0000001"))
    message = str(info.value)
    assert message.startswith("config key qat.optimizers.momentum.lr: '1.0000001' is a string, expected number; ")
    assert message.endswith("write it 1.0000001 (no quotes)")
    assert "YAML reads" not in message  # YAML reads 1.0000001 as a float: the string came quoted or via --config


def test_yaml_exponent_trap_is_explained_with_a_spelling_yaml_reads_as_a_float(smoke_cfg):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(smoke_cfg, "qat.optimizers.momentum.lr", "1e-3"))
    message = str(info.value)
    assert "YAML reads '1e-3' as a string" in message
    assert message.endswith("write it 1.0e-3 (no quotes)")
    assert yaml.safe_load("1.0e-3") == 0.001


def test_boolean_given_as_a_string_gets_configfile_advice(smoke_cfg):
    with pytest.raises(ConfigError, match=r"^config key qat\.model\.third_pool: 'true' is a string, expected "
                                          r"boolean; snakemake --config .*written true \(no quotes\)$"):
        validate_config(_set(smoke_cfg, "qat.model.third_pool", "true"))


def test_folder_source_without_a_folder_says_the_folder_is_required(smoke_cfg):
    with pytest.raises(ConfigError) as info:
        validate_config(_set(smoke_cfg, "data", {"source": "folder"}))
    assert str(info.value) == "config key data.folder is required when data.source is folder"


def test_snakemake_config_error_is_one_line_without_a_traceback(repo_copy, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("qat:\n  threads: 2.0\n")
    proc = snakemake(repo_copy, "-n", "--cores", "1", "--configfile", str(bad))
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last == "config error: config key qat.threads: 2.0 is not an integer (write 2)"
    log = proc.stdout + proc.stderr
    assert "Traceback" not in log and 'File "' not in log and "ConfigError in file" not in log, log[-2000:]


def test_nested_command_line_config_is_refused_with_configfile_advice(repo_copy):
    proc = snakemake(repo_copy, "-n", "--cores", "1", "--config", 'qat={"epochs": 3}')
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("config error: config key qat.epochs: '3' is a string, expected integer; ")
    assert "--configfile" in last and "3.0" not in last
    assert "Traceback" not in proc.stdout + proc.stderr
