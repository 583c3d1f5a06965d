"""Config values that become paths or reach torch's generators, and config files YAML would read
wrongly: each is refused before any job runs, naming the key or the file."""

import copy
import subprocess

import pytest
from fault_chain import Chain, assert_nothing_complete, qat_json
from helpers import BIN, REPO, workflow_env

from stelab.cli import main
from stelab.config import SEED_MAX, ConfigError, load_config, validate_config

BAD_CASE_NAMES = [
    ("..", "is not a usable folder name"),
    (".", "is not a usable folder name"),
    (".hidden", "is not a usable folder name"),
    ("gaps.tsv", "ends like an output file"),
    ("curves.tsv", "ends like an output file"),
    ("variants.TSV", "ends like an output file"),
    ("compare.log", "ends like an output file"),
    ("sim.npz", "ends like an output file"),
    ("x" * 101, "at most 100 characters"),
]


@pytest.mark.parametrize("name, message", BAD_CASE_NAMES, ids=[n[:12] for n, _ in BAD_CASE_NAMES])
@pytest.mark.parametrize("experiment", ["curves", "variants"])
def test_case_name_that_is_not_a_safe_folder_names_the_key(smoke_cfg, experiment, name, message):
    cfg = copy.deepcopy(smoke_cfg)
    cfg["theory"]["experiments"][experiment]["cases"] = {name: {}}
    with pytest.raises(ConfigError, match=rf"config key theory\.experiments\.{experiment}\.cases: .*{message}"):
        validate_config(cfg)


def test_case_names_equal_up_to_letter_case_are_refused(smoke_cfg):
    cfg = copy.deepcopy(smoke_cfg)
    cfg["theory"]["experiments"]["curves"]["cases"] = {"Wide": {}, "wide": {}}
    with pytest.raises(ConfigError, match=r"theory\.experiments\.curves\.cases: 'Wide' and 'wide' differ only in "
                                          r"letter case"):
        validate_config(cfg)


@pytest.mark.parametrize("experiment, field, values", [
    ("plateau", "omegas", [1.5, 1.5000001]),
    ("bridge", "etas", [0.1, 0.10000001]),
])
def test_generated_case_names_that_collapse_are_refused(smoke_cfg, experiment, field, values):
    cfg = copy.deepcopy(smoke_cfg)
    cfg["theory"]["experiments"][experiment][field] = values
    with pytest.raises(ConfigError, match=rf"config key theory\.experiments\.{experiment}\.{field}: .*would share "
                                          r"a folder"):
        validate_config(cfg)


SEEDS = [
    ("qat.seeds", lambda cfg, s: cfg["qat"].update(seeds=[s]), r"qat\.seeds\.0"),
    ("qat.lr_sweep.seeds", lambda cfg, s: cfg["qat"]["lr_sweep"].update(seeds=[0, s]), r"qat\.lr_sweep\.seeds\.1"),
    ("data.synthetic.seed", lambda cfg, s: cfg["data"]["synthetic"].update(seed=s), r"data\.synthetic\.seed"),
    ("theory.sim.seeds", lambda cfg, s: cfg["theory"]["sim"].update(seeds=[s]), r"theory\.sim\.seeds\.0"),
    ("theory.particles.seed", lambda cfg, s: cfg["theory"]["particles"].update(seed=s), r"theory\.particles\.seed"),
]


@pytest.mark.parametrize("key, put, pattern", SEEDS, ids=[s[0] for s in SEEDS])
def test_seed_beyond_torch_range_names_the_key(smoke_cfg, key, put, pattern):
    cfg = copy.deepcopy(smoke_cfg)
    put(cfg, 2**63)
    with pytest.raises(ConfigError, match=rf"config key {pattern}: 9223372036854775808 is greater than the maximum"):
        validate_config(cfg)
    cfg = copy.deepcopy(smoke_cfg)
    put(cfg, SEED_MAX)
    validate_config(cfg)


def test_pretrain_seed_beyond_torch_range_names_the_option(tmp_path, mnist, capsys):
    chain = Chain(tmp_path, mnist, qat_json(), seed=2**63)
    assert chain.pretrain() == 2
    assert f"--seed must be <= {SEED_MAX}" in capsys.readouterr().err
    assert_nothing_complete(chain.pre, chain.pre_ckpt)


BAD_FILES = [
    ("duplicate section", "qat:\n  seeds: [0]\nqat:\n  epochs: 2\n", r"line 3: key qat appears twice \(first on line 1\)"),
    ("duplicate nested key", "qat:\n  optimizers:\n    momentum: {lr: 0.1, lr: 0.2}\n",
     r"line 3: key qat\.optimizers\.momentum\.lr appears twice"),
    ("duplicate key in a list item", "qat:\n  extra_bits:\n    - {bits: 4, bits: 3, estimator: ste}\n",
     r"key qat\.extra_bits\[0\]\.bits appears twice"),
    ("tab", "qat:\n\tseeds: [1]\n", r"line 2, column 1: a tab character; YAML indents with spaces only"),
    ("list", "- qat\n- data\n", r"the top level is a list, not a mapping of config sections"),
    ("scalar", "qat\n", r"the top level is a str, not a mapping"),
    ("bad YAML", "qat: {seeds: [0\n", r"not valid YAML"),
]


@pytest.mark.parametrize("case, text, pattern", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_overlay_yaml_would_misread_names_the_file(tmp_path, case, text, pattern):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(text)
    with pytest.raises(ConfigError, match=rf"config file {overlay}: .*{pattern}"):
        load_config(REPO / "config" / "config.yaml", REPO / "config" / "smoke.yaml", overlay)


def test_empty_overlay_is_no_change(tmp_path):
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    base = load_config(REPO / "config" / "config.yaml")
    assert load_config(REPO / "config" / "config.yaml", tmp_path / "empty.yaml") == base


@pytest.mark.slow
def test_snakefile_refuses_an_overlay_with_a_duplicate_key(tmp_path):
    """Snakemake's own loader keeps the last of two equal keys; the Snakefile re-reads every config file."""
    overlay = tmp_path / "dup.yaml"
    overlay.write_text("qat:\n  seeds: [0]\nqat:\n  epochs: 2\n")
    proc = subprocess.run([str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path / "run"), "-n",
                           "--configfile", str(REPO / "config" / "smoke.yaml"), str(overlay)],
                          env=workflow_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert f"config file {overlay}: line 3: key qat appears twice" in proc.stdout + proc.stderr
    assert not (tmp_path / "run" / "results").exists()


def test_make_synthetic_options_out_of_range_name_the_option(tmp_path, capsys):
    out = tmp_path / "syn"
    for args, message in ((["--seed", "-1"], "--seed must be between 0 and"),
                          (["--seed", str(2**63)], "--seed must be between 0 and"),
                          (["--n-train", "0"], "--n-train must be >= 1, got 0"),
                          (["--n-test", "-5"], "--n-test must be >= 1, got -5")):
        argv = {"--n-train": "20", "--n-test": "10", **dict(zip(args[::2], args[1::2]))}
        assert main(["make-synthetic", "--out", str(out), *[x for kv in argv.items() for x in kv]]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
