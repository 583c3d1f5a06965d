"""Command errors name what is wrong: the file and its missing columns, the folder, the option, the experiment;
one line on stderr and exit status 2, never a traceback."""

import argparse
import json
import subprocess
import sys

import yaml

from helpers import REPO, record_pairs, record_slice, workflow_env
from stelab.cli import build_parser, main

E = {"baseline": 1.0, "lrtweak": 1.2, "unadjusted": 3.0}


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def _module(*args, cwd):
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, env=workflow_env(), cwd=cwd)


def test_qat_tables_refuses_a_table_without_its_columns(tmp_path, capsys):
    junk = tmp_path / "junk.tsv"
    junk.write_text("a\tb\n1\t2\n")
    assert main(["qat-tables", "--pairs", str(junk), "--runs", str(junk), "--out-dir", str(tmp_path / "t")]) == 2
    assert _error(capsys) == (f"stelab qat-tables: error: {junk}: not a pairs table of `stelab compare`: missing "
                              "column(s) bits, optimizer, sweep_factor, seed, pair, diverged, E_bar, agreement, "
                              "diff_train_acc, diff_train_loss, diff_val_acc, diff_val_loss")
    assert not (tmp_path / "t").exists()


def test_qat_tables_names_the_runs_file_and_its_missing_columns(tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    record_pairs(0, E).to_csv(pairs, sep="\t", index=False)
    runs = tmp_path / "runs.tsv"
    runs.write_text("bits\toptimizer\tsweep_factor\tseed\ttrain_acc\n2\tadam\t1.0\t0\t97.0\n")
    assert main(["qat-tables", "--pairs", str(pairs), "--runs", str(runs), "--out-dir", str(tmp_path / "t")]) == 2
    assert _error(capsys) == (f"stelab qat-tables: error: {runs}: not a runs table of `stelab compare`: missing "
                              "column(s) variant, diverged, train_loss, val_acc, val_loss")


def test_record_tables_names_the_slice_and_its_missing_file(tmp_path, capsys):
    d = record_slice(tmp_path, 2, 0, E)
    (d / "runs.tsv").unlink()
    assert main(["record-tables", "--record", str(tmp_path)]) == 2
    assert _error(capsys) == (f"stelab record-tables: error: record slice b2-seed0: {d / 'runs.tsv'} does not exist "
                              "(the runs table of `stelab compare`)")


def test_record_tables_names_the_slice_file_without_its_columns(tmp_path, capsys):
    d = record_slice(tmp_path, 2, 0, E)
    (d / "scatter.tsv").write_text("optimizer\tpair\nadam\tadjusted\n")
    assert main(["record-tables", "--record", str(tmp_path)]) == 2
    assert _error(capsys) == (f"stelab record-tables: error: record slice b2-seed0: {d / 'scatter.tsv'}: not a "
                              "scatter table of `stelab compare`: missing column(s) x, y")


def test_record_tables_outside_the_repository_root_says_where_the_default_is(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["record-tables"]) == 2
    assert _error(capsys) == ("stelab record-tables: error: the default record folder docs/reproduction/mnist/record "
                              "does not exist here: it is relative to the repository root; run from there or pass "
                              "--record <folder>")
    assert main(["record-tables", "--record", "elsewhere"]) == 2
    assert _error(capsys) == "stelab record-tables: error: --record elsewhere: no such folder"


def test_ablation_of_a_missing_point_is_one_line_and_exit_2(tmp_path):
    proc = _module("stelab.qat.ablation", str(tmp_path / "nonexistent" / "a"), "--out", "x.csv", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (f"python -m stelab.qat.ablation: error: search point {tmp_path / 'nonexistent' / 'a'}: "
                           "no such folder\n")
    assert not (tmp_path / "x.csv").exists()


def test_search_of_a_missing_point_is_one_line_and_exit_2(tmp_path):
    proc = _module("stelab.qat.search", str(tmp_path / "nonexistent"), "--out", "x.csv", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (f"python -m stelab.qat.search: error: search point {tmp_path / 'nonexistent'}: "
                           "no such folder\n")


def test_ablation_point_without_its_columns_names_the_file(tmp_path):
    qat = tmp_path / "p" / "results" / "qat"
    qat.mkdir(parents=True)
    (qat / "runs.tsv").write_text("bits\n2\n")
    (qat / "pairs.tsv").write_text("bits\toptimizer\tpair\n2\tadam\tbaseline\n")
    proc = _module("stelab.qat.ablation", str(tmp_path / "p"), "--record", str(tmp_path), "--out", "x.csv",
                   cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == (f"python -m stelab.qat.ablation: error: search point {tmp_path / 'p'}: {qat / 'pairs.tsv'}: "
                           "not a pairs table of `stelab compare`: missing column(s) sweep_factor, seed, diverged, "
                           "E_bar_m, agreement\n")


def _parsers(parser, name="stelab"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_no_help_text_shows_a_doubled_percent_sign():
    for name, parser in _parsers(build_parser()):
        assert "%%" not in parser.format_help(), name
    text = build_parser()._subparsers._group_actions[0].choices["record-tables"].format_help()
    assert "95 % t-intervals" in " ".join(text.split())


def test_device_help_says_what_the_workflow_passes():
    choices = build_parser()._subparsers._group_actions[0].choices
    for command in ("pretrain", "train-branch"):
        text = " ".join(choices[command].format_help().split())
        assert "the workflow passes cpu, or cuda when qat.gpu > 0" in text, command


def test_a_bad_command_line_estimator_is_named_as_the_option(tmp_path, capsys):
    assert main(["constants", "--estimator", "nosuch", "--json", str(tmp_path / "c.json")]) == 2
    err = _error(capsys)
    assert err.startswith("stelab constants: error: --estimator nosuch: unknown estimator 'nosuch'; allowed: ")
    assert "constants.estimators" not in err
    assert main(["constants", "--estimator", "pwl,lo=1,hi=0"]) == 2
    assert _error(capsys) == "stelab constants: error: --estimator pwl: pwl: lo must be < hi, got lo=1, hi=0"


def test_a_config_estimator_is_still_named_as_the_config_key(capsys):
    spec = json.dumps({"estimators": {"mine": {"name": "pwl", "lo": 1.0, "hi": 0.0}}, "layers": [{"bits": 2}]})
    assert main(["constants", "--spec", spec]) == 2
    assert _error(capsys) == "stelab constants: error: constants.estimators.mine: pwl: lo must be < hi, got lo=1, hi=0"


def _theory_spec():
    with open(REPO / "config" / "config.yaml") as fh:
        return json.dumps(yaml.safe_load(fh)["theory"])


def test_an_unknown_theory_experiment_is_named_with_the_known_ones(capsys):
    assert main(["theory", "simulate", "--spec", _theory_spec(), "--experiment", "nosuch", "--case", "x",
                 "--out", "x.npz"]) == 2
    assert _error(capsys) == ("stelab theory: error: theory experiment 'nosuch' is unknown; the experiments: density, "
                              "curves, plateau, variants, bridge, fixed_points, stability")


def test_a_sweep_experiment_has_no_cases(capsys):
    assert main(["theory", "solve", "--spec", _theory_spec(), "--experiment", "stability", "--case", "x",
                 "--out", "x.npz"]) == 2
    assert _error(capsys) == ("stelab theory: error: theory.experiments.stability: a sweep without cases (stelab "
                              "theory fixed-point or sweep runs it); the experiments with cases: density, curves, "
                              "plateau, variants, bridge")
