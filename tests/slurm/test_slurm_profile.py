"""profiles/slurm on a real one-node Slurm cluster (tests/slurm/cluster.sh brings it up).

Evidence comes from Slurm itself, not from Snakemake's word: each job records `scontrol show job`
while it runs, Slurm's job ids parsed from Snakemake's output are looked up in slurmctld's log and
in `scontrol`/`squeue` (no accounting database on the test cluster), and the executor's per-job Slurm
logs are read back. Run with STELAB_SLURM_TESTS=1; then a cluster that is not up is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import REPO, copy_repo, snakemake

pytestmark = pytest.mark.slurm

ENABLED = os.environ.get("STELAB_SLURM_TESTS") == "1"
PROFILE = REPO / "profiles" / "slurm"
# a short first status check keeps the tests quick (the profile's 20 s suits real clusters)
FAST = ("--slurm-init-seconds-before-status-checks", "2")
TRAINING_RULES = ("qat_pretrain", "qat_train_branch")
LOCAL_OUTPUTS = ["results", "report", ".snakemake"]  # what a run adds to a copy of the repository
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")


def _slurm(*args: str) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True, timeout=30).stdout


@pytest.fixture(scope="session")
def cluster() -> dict:
    """The running test cluster: its partition, node and slurmctld log; skip or fail if it is not up.

    Session-scoped, so that it is set up (and skips) before the session's `smoke_run` fixture."""
    if not ENABLED:
        pytest.skip("Slurm tests are off: bring the cluster up (bash tests/slurm/cluster.sh, as root) "
                    "and set STELAB_SLURM_TESTS=1")
    if shutil.which("sinfo") is None:
        pytest.fail("STELAB_SLURM_TESTS=1 but Slurm's client commands are not installed; run tests/slurm/cluster.sh")
    try:
        nodes = _slurm("sinfo", "-h", "-N", "-o", "%N|%T|%P|%G").split()
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"STELAB_SLURM_TESTS=1 but the Slurm cluster does not answer: {exc}")
    ready = [n.split("|") for n in nodes if n.split("|")[1] in ("idle", "mixed", "allocated")]
    if not ready:
        pytest.fail(f"STELAB_SLURM_TESTS=1 but no Slurm node is up (sinfo: {nodes}); run tests/slurm/cluster.sh")
    node, _, partition, gres = ready[0]
    assert "gpu" in gres, f"the test node has no GPU gres ({gres}); tests/slurm/cluster.sh configures a fake one"
    config = _slurm("scontrol", "show", "config")
    return {
        "node": node,
        "partition": partition.rstrip("*"),
        "ctld_log": Path(re.search(r"^SlurmctldLogFile\s*=\s*(\S+)", config, re.M).group(1)),
        "min_job_age": int(re.search(r"^MinJobAge\s*=\s*(\d+)", config, re.M).group(1)),
    }


class JobRecorder:
    """Polls `scontrol show job -o` while a workflow runs and keeps each job's latest record."""

    def __init__(self):
        self.records: dict[str, dict[str, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._snapshot()

    def _poll(self):
        while not self._stop.wait(1.0):
            self._snapshot()

    def _snapshot(self):
        out = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True, timeout=30).stdout
        for line in out.splitlines():
            record = dict(re.findall(r"(\w+)=(\S*)", line))
            if "JobId" in record:
                self.records[record["JobId"]] = record


def submissions(output: str) -> dict[str, dict]:
    """Slurm job id -> {rule, log} from the executor's "Job N has been submitted ..." lines."""
    out = {}
    for _, slurm_id, log in SUBMITTED.findall(output):
        rule = re.search(r"/rule_([A-Za-z0-9_]+)/", log).group(1)
        out[slurm_id] = {"rule": rule, "log": Path(log)}
    return out


def ctld_events(cluster: dict) -> str:
    return cluster["ctld_log"].read_text(errors="replace")


def assert_ran_under_slurm(cluster: dict, slurm_id: str, record: dict, ctld_log: str, gpu: bool):
    assert record["Partition"] == cluster["partition"]
    assert record["NodeList"] == cluster["node"]
    assert record["JobState"] == "COMPLETED", record
    assert record["ExitCode"] == "0:0"
    assert (record.get("TresPerJob", "") == "gres:gpu:1") is gpu, record
    assert f"_slurm_rpc_submit_batch_job: JobId={slurm_id} " in ctld_log
    assert f"_job_complete: JobId={slurm_id} WEXITSTATUS 0" in ctld_log


TINY = """\
rule all:
    input:
        "out/summary.txt",


rule qat_train_branch:
    output:
        env="out/train_env.txt",
        job="out/train_job.txt",
    log:
        "logs/train.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        "python -c 'import os; print(os.environ[\\"SLURM_JOB_ID\\"], os.environ.get(\\"CUDA_VISIBLE_DEVICES\\"))' "
        "> {output.env} 2> {log} && scontrol -o show job $SLURM_JOB_ID > {output.job}"


rule summarize:
    input:
        "out/train_env.txt",
    output:
        summary="out/summary.txt",
        job="out/summarize_job.txt",
    log:
        "logs/summarize.log",
    resources:
        mem_mb=200,
        runtime=5,
    shell:
        "cp {input} {output.summary} 2> {log} && scontrol -o show job $SLURM_JOB_ID > {output.job}"
"""

FAILING = """\
rule all:
    input:
        "out/flaky.txt",
        "out/fails.txt",


rule flaky:
    output:
        "out/flaky.txt",
    log:
        "logs/flaky.log",
    resources:
        mem_mb=200,
        runtime=5,
        attempt=lambda wildcards, attempt: attempt,
    shell:
        "echo {resources.attempt} >> attempts_flaky.txt; "
        "if [ {resources.attempt} -lt 2 ]; then echo 'transient failure' > {log}; exit 1; fi; "
        "echo ok > {output}"


rule fails:
    output:
        "out/fails.txt",
    log:
        "logs/fails.log",
    resources:
        mem_mb=200,
        runtime=5,
    shell:
        "echo attempt >> attempts_fails.txt; echo 'deliberate failure' > {log}; exit 3"
"""


def tiny_workflow(tmp_path: Path, snakefile: str) -> Path:
    (tmp_path / "Snakefile").write_text(snakefile)
    shutil.copytree(PROFILE, tmp_path / "profiles" / "slurm")
    return tmp_path


def test_gpu_rule_runs_as_slurm_job_with_gpu_gres(cluster, tmp_path):
    work = tiny_workflow(tmp_path, TINY)
    proc = snakemake(work, "--profile", "profiles/slurm", *FAST, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]

    jobs = submissions(output)
    by_rule = {job["rule"]: slurm_id for slurm_id, job in jobs.items()}
    assert sorted(by_rule) == ["qat_train_branch", "summarize"]  # `all` ran locally
    ctld_log = ctld_events(cluster)
    for rule, gpu in (("qat_train_branch", True), ("summarize", False)):
        slurm_id = by_rule[rule]
        # the job's own view of itself, taken by `scontrol` while it was running
        job_file = "out/train_job.txt" if gpu else "out/summarize_job.txt"
        record = dict(re.findall(r"(\w+)=(\S*)", (work / job_file).read_text()))
        assert record["JobId"] == slurm_id
        assert record["JobState"] == "RUNNING"
        assert record["Comment"] == f"rule_{rule}"
        assert (record.get("TresPerJob", "") == "gres:gpu:1") is gpu, record
        if gpu:
            assert record["CpusPerTres"] == "gres:gpu:1"  # cpus_per_gpu = threads = 1
        assert record["Partition"] == cluster["partition"]
        # the finished job, from slurmctld (squeue keeps it for MinJobAge s) and its log
        assert _slurm("squeue", "-h", "--states=all", "-j", slurm_id, "-o", "%T").strip() == "COMPLETED"
        assert f"_job_complete: JobId={slurm_id} WEXITSTATUS 0" in ctld_log
        # the executor's Slurm log of a successful job is kept (slurm-keep-successful-logs)
        log = jobs[slurm_id]["log"]
        assert log == work / "results" / "logs" / "slurm" / f"rule_{rule}" / f"{slurm_id}.log"
        assert f"rule {rule}:" in log.read_text()
    # Slurm handed the job its (fake) GPU
    job_id, visible = (work / "out" / "train_env.txt").read_text().split()
    assert job_id == by_rule["qat_train_branch"]
    assert visible == "0"


def test_failed_job_is_reported_with_its_log_and_transient_failure_retried(cluster, tmp_path):
    work = tiny_workflow(tmp_path, FAILING)
    proc = snakemake(work, "--profile", "profiles/slurm", *FAST, timeout=400)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-6000:]

    # the deliberate failure: reported by rule, with the rule's log and the Slurm job's log
    assert "Error in rule fails:" in output
    error = output[output.index("Error in rule fails:"):]
    assert "logs/fails.log" in error
    assert (work / "logs" / "fails.log").read_text().strip() == "deliberate failure"
    jobs = submissions(output)
    failed = [slurm_id for slurm_id, job in jobs.items() if job["rule"] == "fails"]
    assert len(failed) == 3  # the profile's `retries: 2`
    for slurm_id in failed:
        assert _slurm("squeue", "-h", "--states=all", "-j", slurm_id, "-o", "%T").strip() == "FAILED"
        assert f"SLURM-job '{slurm_id}' failed" in output
        assert str(jobs[slurm_id]["log"]) in output
        assert jobs[slurm_id]["log"].is_file()
    assert (work / "attempts_fails.txt").read_text().split() == ["attempt"] * 3
    # the transient failure: retried under Slurm and finished (keep-going)
    assert (work / "attempts_flaky.txt").read_text().split() == ["1", "2"]
    assert (work / "out" / "flaky.txt").read_text().strip() == "ok"
    assert [job["rule"] for job in jobs.values()].count("flaky") == 2


def test_gpu_job_without_cuda_fails_before_training(cluster, tmp_path):
    """qat.gpu: 1 on a node whose GPU (here the test cluster's fake one) CUDA cannot see: the job fails
    before any training, naming the device and the config key, on every retry; no checkpoint appears."""
    work = copy_repo(tmp_path / "repo")
    (work / "config" / "gpu.yaml").write_text("qat:\n  gpu: 1\n")
    target = "results/qat/b2/momentum/lr1/seed0/pretrain.pt"
    proc = snakemake(work, target, "--profile", "profiles/slurm", *FAST, "--configfile", "config/smoke.yaml",
                     "config/gpu.yaml", timeout=600)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-6000:]
    jobs = submissions(output)
    pretrain = [slurm_id for slurm_id, job in jobs.items() if job["rule"] == "qat_pretrain"]
    assert len(pretrain) == 3, output[-6000:]  # the profile's `retries: 2`
    for slurm_id in pretrain:
        assert _slurm("squeue", "-h", "--states=all", "-j", slurm_id, "-o", "%T").strip() == "FAILED"
    log = (work / "results" / "logs" / "qat" / "b2" / "momentum" / "lr1" / "seed0" / "pretrain.log").read_text()
    assert "--device cuda: no CUDA device is visible" in log and "qat.gpu" in log, log[-3000:]
    assert "step" not in log.split("--device cuda")[0]  # nothing trained before the refusal
    assert not (work / target).exists()


def _timing(name) -> bool:
    """Wall-clock measurements (`seconds`, `pde_seconds`, ...): the one thing two runs may differ in."""
    return isinstance(name, str) and (name == "seconds" or name.endswith("_seconds"))


def _same_file(ours: Path, theirs: Path):
    """Same content, apart from wall-clock timings."""
    if ours.suffix == ".pt":
        _same_object(torch.load(ours, weights_only=True), torch.load(theirs, weights_only=True), str(ours))
    elif ours.suffix == ".npz":
        with np.load(ours, allow_pickle=True) as a, np.load(theirs, allow_pickle=True) as b:
            assert sorted(a.files) == sorted(b.files), ours
            for key in a.files:
                if not _timing(key):
                    _same_object(a[key], b[key], f"{ours}[{key!r}]")
    elif ours.suffix in (".tsv", ".csv"):
        sep = "\t" if ours.suffix == ".tsv" else ","
        a, b = pd.read_csv(ours, sep=sep), pd.read_csv(theirs, sep=sep)
        pd.testing.assert_frame_equal(a.drop(columns=[c for c in a.columns if _timing(c)]),
                                      b.drop(columns=[c for c in b.columns if _timing(c)]), check_exact=True)
    else:
        assert ours.read_bytes() == theirs.read_bytes(), ours


def _same_object(a, b, where: str):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            if not _timing(key):
                _same_object(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same_object(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b) or (a.is_floating_point() and torch.equal(a.isnan(), b.isnan())
                                     and torch.equal(a.nan_to_num(), b.nan_to_num())), where
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"), where
    else:
        assert a == b or (a != a and b != b), where  # NaN == NaN here


@pytest.mark.slow
def test_smoke_dag_through_the_profile_matches_the_local_run(cluster, smoke_run, tmp_path_factory):
    # the local run's sources, so that both runs see the very same files
    work = tmp_path_factory.mktemp("slurm-smoke") / "repo"
    shutil.copytree(smoke_run, work, ignore=lambda d, names: LOCAL_OUTPUTS if Path(d) == smoke_run else [])
    with JobRecorder() as recorder:
        proc = snakemake(work, "--profile", "profiles/slurm", "--configfile", "config/smoke.yaml", *FAST,
                         timeout=1500)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]

    jobs = submissions(output)
    rules = [job["rule"] for job in jobs.values()]
    for rule in TRAINING_RULES:
        assert rule in rules
    # rules marked localrule (data, constants, notebooks, report index) never went to Slurm
    for rule in ("make_synthetic_mnist", "estimator_constants", "notebook", "report_index"):
        assert rule not in rules
    ctld_log = ctld_events(cluster)
    for slurm_id, job in jobs.items():
        assert slurm_id in recorder.records, f"Slurm never showed job {slurm_id} ({job['rule']})"
        record = recorder.records[slurm_id]
        assert record["Comment"].startswith(f"rule_{job['rule']}")
        assert_ran_under_slurm(cluster, slurm_id, record, ctld_log, gpu=job["rule"] in TRAINING_RULES)
        assert f"rule {job['rule']}:" in job["log"].read_text()

    # the same results as the local run of the same DAG (session fixture `smoke_run`)
    compared = 0
    for ours in sorted((work / "results").rglob("*")):
        rel = ours.relative_to(work)
        if not ours.is_file() or rel.parts[1] in ("logs", "notebooks", "benchmarks") or rel.suffix in (".html", ".log"):
            continue
        theirs = smoke_run / rel
        assert theirs.is_file(), f"{rel} exists only in the Slurm run"
        _same_file(ours, theirs)
        compared += 1
    assert compared >= 50
    assert (work / "report" / "index.html").is_file()
