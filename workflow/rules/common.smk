# Shared registries filled by the other rule files.
#
# ALL_TARGETS: final outputs of every track (rule all asks for them).
# NOTEBOOKS:   report pages; NOTEBOOKS[name] = {"inputs": {parameter: path}} executes
#              workflow/notebooks/{name}.ipynb with those paths as papermill parameters.

import json
import os
from pathlib import Path

ALL_TARGETS = []
NOTEBOOKS = {}
LOGS = "results/logs"
# Every rule runs in this environment under `--sdm conda` (path relative to the rule files).
STELAB_ENV = "../../envs/stelab.yaml"


def as_json(obj):
    """A config section as one shell-quotable JSON argument (changes re-trigger the rule)."""
    return json.dumps(obj, sort_keys=True)


# --- data (data.smk) -------------------------------------------------------------------


def mnist_dir():
    """The folder holding the four MNIST IDX files the QAT rules read (config data.root)."""
    return config["data"]["root"]


def user_mnist_files():
    """The user's IDX files (plain or .gz) in data.folder; a clear error naming the key otherwise."""
    folder = config["data"].get("folder")
    if not folder:
        raise ValueError("config data.source is 'folder' but data.folder is not set")
    if not Path(folder).is_dir():
        raise ValueError(f"config data.folder: {folder} does not exist or is not a folder")
    found = []
    for name in MNIST_FILE_NAMES:
        candidates = [Path(folder) / name, Path(folder) / f"{name}.gz"]
        present = [str(p) for p in candidates if p.is_file()]
        if not present:
            raise ValueError(f"config data.folder: {folder} holds neither {name} nor {name}.gz")
        found.append(present[0])
    return found


# --- QAT (qat.smk) ---------------------------------------------------------------------


def qat_data_dir(wildcards, input):
    """--data of the training rules: the ImageFolder root, or the folder of the MNIST IDX files."""
    return IMAGEFOLDER_ROOT if QAT_IMAGEFOLDER else os.path.dirname(input.data[0])


def qat_factor(f):
    """Path form of a learning-rate factor: 1, 0.25, 4."""
    return f"{float(f):g}"


def qat_branches():
    """(bits, optimizer, factor, seed, variant) of every branch to train."""
    out = [(b, o, "1", s, v) for b in QAT_ALL_BITS for o in QAT["optimizers"] for s in QAT["seeds"]
           for v in QAT["variants"][o]]
    sweep = QAT.get("lr_sweep", {})
    for o in sweep.get("optimizers", []):
        for f in sweep.get("factors", []):
            if float(f) != 1.0:
                out += [(QAT_BITS, o, qat_factor(f), s, v) for s in sweep.get("seeds", QAT["seeds"])
                        for v in ("qhat", "ste")]
    return out


def qat_branch_files(name, main_only=False):
    """``name`` in every branch folder; ``main_only``: qat.quantize.bits at learning-rate factor 1."""
    return [f"{QAT_DIR}/b{b}/{o}/lr{f}/seed{s}/{v}/{name}" for b, o, f, s, v in qat_branches()
            if not main_only or (f == "1" and b == QAT_BITS)]
