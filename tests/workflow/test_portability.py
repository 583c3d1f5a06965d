"""The workflow off the developer's checkout: another working directory, a Snakemake module, a
head node without torch, and jobs in an environment where stelab itself is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from helpers import BIN, REPO, workflow_env

SMOKE = ["--configfile", str(REPO / "config" / "smoke.yaml")]


def _run(args, cwd: Path, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "snakemake"), *args], cwd=cwd, env=env or workflow_env(),
                          capture_output=True, text=True, timeout=timeout)


def _job_count(stdout: str) -> int:
    lines = [ln.split() for ln in stdout.splitlines()]
    totals = [int(parts[1]) for parts in lines if len(parts) == 2 and parts[0] == "total" and parts[1].isdigit()]
    assert totals, stdout[-2000:]
    return totals[-1]


def test_dry_run_from_another_working_directory(tmp_path):
    proc = _run(["-s", str(REPO / "Snakefile"), "--directory", str(tmp_path / "run"), "-n", "--cores", "1", *SMOKE],
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _job_count(proc.stdout) == 69  # the whole smoke DAG: notebooks, provenance and report included
    assert not (tmp_path / "run" / "results").exists()


def test_the_workflow_as_a_snakemake_module(tmp_path):
    (tmp_path / "Snakefile").write_text(
        f'configfile: "{REPO / "config" / "config.yaml"}"\n'
        f'configfile: "{REPO / "config" / "smoke.yaml"}"\n\n'
        "module stelab:\n"
        f'    snakefile: "{REPO / "Snakefile"}"\n'
        "    config: config\n\n"
        "use rule * from stelab as stelab_*\n"
    )
    proc = _run(["-n", "--cores", "1", "stelab_all"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _job_count(proc.stdout) == 69
    assert "stelab_qat_train_branch" in proc.stdout and "stelab_notebook" in proc.stdout


def test_the_snakefile_parses_without_torch(tmp_path):
    """The head node's Snakemake needs only snakemake, pyyaml and jsonschema to build the DAG."""
    blocker = tmp_path / "blocker" / "torch"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text('raise ImportError("torch is blocked in this test")\n')
    env = workflow_env()
    env["PYTHONPATH"] = os.pathsep.join([str(blocker.parent), env["PYTHONPATH"]])
    check = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert "torch is blocked" in check.stderr
    proc = _run(["-s", str(REPO / "Snakefile"), "-n", "--cores", "1", *SMOKE], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _job_count(proc.stdout) == 69


@pytest.mark.slow
def test_a_rule_runs_where_only_the_dependencies_are_installed(tmp_path):
    """As under `--sdm conda`: the job's Python has torch & co. but no stelab; rules use the checkout's src/."""
    env_dir = tmp_path / "deps-only"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    site = Path(subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # a plain path entry: the dependencies are importable, the editable stelab install (a .pth hook) is not
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = workflow_env()
    env["PATH"] = os.pathsep.join([str(env_dir / "bin"), env["PATH"]])
    env["STELAB_PYTHON"] = str(env_dir / "bin" / "python")  # what --sdm conda's environment would be
    env.pop("PYTHONPATH")
    probe = subprocess.run(["python", "-c", "import torch, pandas, papermill; import stelab"], env=env,
                           capture_output=True, text=True)
    assert "No module named 'stelab'" in probe.stderr, probe.stderr
    targets = ["results/data/synthetic-mnist/train-labels-idx1-ubyte", "results/constants/constants.json"]
    proc = _run([*targets, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path / "run"), "--cores", "1",
                 *SMOKE], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / "results" / "constants" / "constants.json").stat().st_size > 0


def test_jobs_run_with_the_snakemake_interpreter_when_the_venv_is_not_activated(tmp_path):
    """`.venv/bin/snakemake` without `source .venv/bin/activate`: no python with torch on PATH."""
    env = workflow_env()
    env["PATH"] = "/usr/bin:/bin"
    env.pop("STELAB_PYTHON", None)
    probe = subprocess.run("python -c 'import torch'", shell=True, env=env, capture_output=True, text=True)
    assert probe.returncode != 0, "this test needs a PATH without a python that has torch"
    target = "results/constants/constants.json"
    proc = _run([target, "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path / "run"), "--cores", "1",
                 *SMOKE], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "run" / target).stat().st_size > 0
