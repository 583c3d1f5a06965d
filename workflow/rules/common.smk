# The one home of the workflow's shared definitions and input functions (Snakemake's convention):
# the registries, the stelab command, the environment, and the helpers of data.smk and qat.smk
# (they read globals those files define, at DAG-building time).
#
# ALL_TARGETS: final outputs of every track (rule all asks for them).
# NOTEBOOKS:   report pages; NOTEBOOKS[name] = {"inputs": {parameter: path}} executes
#              workflow/notebooks/{name}.ipynb with those paths as papermill parameters.
# STELAB:      the command that each job runs, this checkout's package (src/ on PYTHONPATH), so jobs
#              need only the dependencies of envs/stelab.yaml, not an installed stelab. The path of
#              src/ reaches the jobs as $STELAB_SRC, set here in the environment they inherit (every
#              Snakemake process parses this file, a cluster job's too): no absolute path of the
#              checkout is in a rule's params or shell text, so a finished run can move.
# user_code_param(section): the sha256 of the source of every user module a config section names,
#              passed as a param, so editing the module reruns exactly the jobs whose section names it.

import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.settings.types import DeploymentMethod

from stelab.config import software_versions, source_digests, user_code
from stelab.config.identity import package_digest

WORKFLOW_ROOT = Path(workflow.current_basedir).parents[1]
# set here for every job, not required from the user (so no envvars directive)
os.environ.update(STELAB_SRC=str(WORKFLOW_ROOT / "src"))
# Jobs run stelab with $STELAB_PYTHON: by default the interpreter that runs Snakemake, so
# `.venv/bin/snakemake` works without activating the venv; with --sdm conda the rule's conda
# environment's python. A value set by the user is kept. The path travels in the environment, not in
# the params, so a moved checkout or venv reruns nothing.
if DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method:
    os.environ.pop("STELAB_PYTHON", None)
else:
    os.environ.setdefault("STELAB_PYTHON", sys.executable)
STELAB = 'PYTHONPATH="$STELAB_SRC${PYTHONPATH:+:$PYTHONPATH}" "${STELAB_PYTHON:-python}" -m stelab'
# The content of the stelab package the jobs run: a param of every rule that computes or shows a
# number (not of the data rules, whose outputs are checked by content), so a code change reruns them.
STELAB_SOURCE = package_digest(WORKFLOW_ROOT / "src" / "stelab")
# Every rule runs in this environment under `--sdm conda` (path relative to the rule files).
STELAB_ENV = "../../envs/stelab.yaml"
ALL_TARGETS = []
NOTEBOOKS = {}
LOGS = "results/logs"


def as_json(obj):
    """A config section as one shell-quotable JSON argument (changes re-trigger the rule)."""
    return json.dumps(obj, sort_keys=True)


def mnist_dir():
    """The folder holding the four MNIST IDX files the data rules write and the QAT rules read."""
    return config["data"]["root"]


def checkout_files_param(paths):
    """The content digests of files of this checkout a rule reads, keyed by file name (a param in place
    of their absolute paths, which reach the shell only through derived params)."""
    return as_json(source_digests(paths))


def user_code_param(section):
    """The user-code digests of ``section`` (stelab.config.user_code) as one param value ({} when none)."""
    return as_json(user_code(section))


# --- data.smk


def user_mnist_files(wildcards):
    """The user's IDX files in data.folder, plain or .gz (stelab.config checked that each exists)."""
    folder = Path(config["data"]["folder"])
    return [
        str(folder / n) if (folder / n).is_file() else str(folder / f"{n}.gz")
        for n in MNIST_FILE_NAMES
    ]


# --- qat.smk


def qat_data_dir(wildcards, input):
    """--data of the training rules: the ImageFolder root, or the folder of the MNIST IDX files."""
    return IMAGEFOLDER_ROOT if QAT_IMAGEFOLDER else os.path.dirname(input.data[0])


def qat_branches():
    """(bits, optimizer, factor, seed, variant) of every branch to train."""
    out = [
        (b, o, "1", s, v)
        for b in QAT_ALL_BITS
        for o in QAT["optimizers"]
        for s in QAT["seeds"]
        for v in QAT["variants"][o]
    ]
    sweep = QAT["lr_sweep"]
    for o in sweep["optimizers"]:
        for f in sweep["factors"]:
            if float(f) != 1.0:
                out += [
                    (QAT_BITS, o, lr_factor_label(f), s, v)
                    for s in sweep.get("seeds", QAT["seeds"])
                    for v in ("qhat", "ste")
                ]
    return out


def qat_branch_files(name, main_only=False):
    """``name`` in every branch folder; ``main_only``: qat.quantize.bits at learning-rate factor 1."""
    return [
        f"{QAT_DIR}/b{b}/{o}/lr{f}/seed{s}/{v}/{name}"
        for b, o, f, s, v in qat_branches()
        if not main_only or (f == "1" and b == QAT_BITS)
    ]


def qat_user_code(wildcards):
    """user_code_param of the estimator of the job's bit width (qat.estimator or its qat.extra_bits entry)."""
    bits = int(wildcards.bits)
    extra = {e["bits"]: e["estimator"] for e in QAT["extra_bits"]}
    return user_code_param(
        {"estimator": QAT["estimator"] if bits == QAT_BITS else extra[bits]}
    )


def qat_runtime(base):
    """Slurm wall time of a training job: qat.runtime_min (or ``base`` minutes) × the attempt number."""
    return lambda wildcards, attempt: (QAT["runtime_min"] or base) * attempt


def qat_device(rule):
    """--device of a training rule's jobs from the GPU they are given (qat.gpu, or a set-resources
    such as profiles/slurm's, read here so that the device is a plain param, which Snakemake compares
    to rerun a job): none, cpu (a visible GPU is not used); asked for by qat.gpu, cuda (fails at once
    where CUDA sees no GPU); given by set-resources alone, auto (the GPU when CUDA sees it). The
    checkpoints record the device actually used."""
    over = workflow.resource_settings.overwrite_resources.get(rule) or {}
    value = getattr(over.get("gpu"), "raw", over.get("gpu"))
    try:
        gpu = QAT["gpu"] if value is None else int(value)
    except (TypeError, ValueError):  # an expression: a GPU is meant
        gpu = 1
    if gpu == 0:
        return "cpu"
    return "cuda" if QAT["gpu"] > 0 else "auto"
