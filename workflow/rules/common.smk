# Shared by several rule files: the registries, the stelab command, the environment.
#
# ALL_TARGETS: final outputs of every track (rule all asks for them).
# NOTEBOOKS:   report pages; NOTEBOOKS[name] = {"inputs": {parameter: path}} executes
#              workflow/notebooks/{name}.ipynb with those paths as papermill parameters.
# STELAB:      the command every rule runs: this checkout's package (src/ on PYTHONPATH), so jobs
#              need only the dependencies of envs/stelab.yaml, not an installed stelab.

import json
import os
import shlex
from pathlib import Path

WORKFLOW_ROOT = Path(workflow.current_basedir).parents[1]
STELAB = f"PYTHONPATH={shlex.quote(str(WORKFLOW_ROOT / 'src'))}${{PYTHONPATH:+:$PYTHONPATH}} python -m stelab"
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
