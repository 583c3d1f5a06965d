"""The command line: every command explains itself; `stelab constants` writes the documented numbers."""

import json
import math
import subprocess

import pytest

from helpers import BIN, workflow_env

from stelab.cli import main

COMMANDS = [
    ["constants"], ["report", "notebook"], ["report", "index"], ["download-mnist"], ["make-synthetic"],
    ["pretrain"], ["fork"], ["train-branch"], ["compare"], ["qat-tables"], ["theory"], ["figures"], ["config-docs"],
    ["check-imagefolder"],
]


def stelab(*args, **kw):
    return subprocess.run([str(BIN / "stelab"), *args], capture_output=True, text=True, env=workflow_env(), **kw)


def test_top_level_help_lists_the_commands():
    out = stelab("--help")
    assert out.returncode == 0
    for cmd in ("constants", "report", "pretrain", "fork", "train-branch", "theory"):
        assert cmd in out.stdout


def help_text(cmd, capsys) -> str:
    """`stelab <cmd> --help` in this process (the installed script is run by the test above)."""
    with pytest.raises(SystemExit) as stop:
        main([*cmd, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_every_command_has_help(cmd, capsys):
    assert len(help_text(cmd, capsys).splitlines()) >= 5


def test_constants_help_explains_the_quantities(capsys):
    text = help_text(["constants"], capsys)
    for word in ("L−", "L+", "L′", "α", "--estimator", "--bits", "--json"):
        assert word in text


def test_constants_json_for_htge_two_bits(tmp_path):
    out = tmp_path / "htge.json"
    proc = stelab("constants", "--estimator", "htge,k0=5.5", "--bits", "2", "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(out.read_text())
    t = 11 / 3
    assert row["alpha"] == pytest.approx(t * t / (math.tanh(t / 2) * (t + math.sinh(t))), rel=1e-10)
    assert row["alpha"] == pytest.approx(0.609, abs=1e-3)


def test_constants_with_a_user_estimator(tmp_path):
    out = tmp_path / "user.tsv"
    proc = stelab("constants", "--estimator", "user_estimators:raised_cosine,depth=0.5", "--bits", "3", "--tsv", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "raised_cosine" in out.read_text()


def test_bad_estimator_exits_2_with_message_and_no_output(tmp_path):
    out = tmp_path / "x.json"
    proc = stelab("constants", "--estimator", "nonsense", "--json", str(out))
    assert proc.returncode == 2
    assert "unknown estimator 'nonsense'" in proc.stderr
    assert not out.exists() and not list(tmp_path.iterdir())
