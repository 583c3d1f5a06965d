"""Test helpers shared by every tier: repository copies, Snakemake runs, tiny data sets built on the fly,
fake record slices."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from stelab.data.imagefolder import check_imagefolder
from stelab.io import atomic_path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def workflow_env() -> dict:
    """Environment for subprocesses: this interpreter's bin first (stelab, snakemake), tests on PYTHONPATH."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "tests"), env.get("PYTHONPATH", "")]))
    env["MPLBACKEND"] = "Agg"
    return env


def copy_repo(dest: Path) -> Path:
    """Copy the tracked and untracked-but-not-ignored files (what a fresh clone would hold, plus work in progress)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.decode().split("\0")
    for rel in filter(None, files):
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    return dest


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "snakemake"), *args], cwd=workdir, env=workflow_env(), capture_output=True, text=True,
        timeout=timeout,
    )


def tiny_data(n_train=256, n_test=64, seed=1):
    """Random 28×28 uint8 images and labels, prepared as the training loop expects them."""
    from stelab.qat.inputs import prepare_data

    g = torch.Generator().manual_seed(seed)
    raw = {split: (torch.randint(0, 256, (n, 28, 28), generator=g, dtype=torch.uint8),
                   torch.randint(0, 10, (n,), generator=g))
           for split, n in (("train", n_train), ("test", n_test))}
    return prepare_data(raw)


def write_fake_imagefolder(root, n_classes: int, n_per_class: int, size: int, seed: int) -> dict:
    """Write a tiny ImageFolder dataset of PNGs (``train/`` and ``val/``, ``n_per_class`` each).

    Class ``c`` images are a class-specific colour with a bright square at a random place
    plus noise, so a network can tell them apart. Returns ``check_imagefolder(root)``.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.default_rng(seed)
    palette = rng.integers(30, 226, size=(n_classes, 3))
    for split in ("train", "val"):
        for c in range(n_classes):
            for i in range(n_per_class):
                pixels = palette[c] + rng.normal(0, 20, (size, size, 3))
                side = max(1, size // 4)
                y, x = rng.integers(0, size - side + 1, size=2)
                pixels[y:y + side, x:x + side] = 255
                image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
                with atomic_path(root / split / f"class_{c:03d}" / f"{i:04d}.png") as tmp:
                    image.save(tmp, format="PNG")
    return check_imagefolder(root)


def record_pairs(seed, e, bits=2, diverged=False):
    """pairs.tsv rows of one seed: Ē per pair of both optimizers (Adam without an unadjusted pair)."""
    rows = []
    for optimizer, pairs in (("momentum", ("baseline", "lrtweak", "unadjusted")), ("adam", ("baseline", "lrtweak"))):
        for pair in pairs:
            rows.append({"bits": bits, "optimizer": optimizer, "sweep_factor": 1.0, "seed": seed, "pair": pair,
                         "diverged": diverged, "E_bar": e[pair], "E_bar_m": 2 * e[pair], "E_bar_path": 10 * e[pair],
                         "agreement": 98.0, "n_weights": 100,
                         "diff_train_acc": 0.1 * (seed + 1), "diff_train_loss": -0.001, "diff_val_acc": 0.0,
                         "diff_val_loss": 0.002})
    return pd.DataFrame(rows)


def record_slice(record, bits, seed, e):
    """A record slice folder b<bits>-seed<k>/ as `stelab record-slice` writes it, with Ē per pair from ``e``."""
    d = record / f"b{bits}-seed{seed}"
    d.mkdir(parents=True)
    pairs = record_pairs(seed, e, bits)
    pairs.to_csv(d / "pairs.tsv", sep="\t", index=False)
    runs = pd.DataFrame([{"bits": bits, "optimizer": o, "sweep_factor": 1.0, "seed": seed, "variant": v,
                          "diverged": False, "train_acc": 97.0 + seed, "train_loss": 0.1, "val_acc": 97.0,
                          "val_loss": 0.1} for o in ("momentum", "adam") for v in ("qhat", "ste")])
    runs.to_csv(d / "runs.tsv", sep="\t", index=False)
    tracking = pd.DataFrame([{"bits": bits, "optimizer": "momentum", "sweep_factor": 1.0, "seed": seed,
                              "pair": "baseline", "step": s, "E_bar": e["baseline"] * s / 10,
                              "E_bar_m": e["baseline"] * s / 5, "E_bar_path": 1.0, "agreement": 99.0,
                              "n_weights": 100} for s in (0, 5, 10)])
    tracking.to_csv(d / "tracking.tsv", sep="\t", index=False)
    scatter = pd.DataFrame([{"optimizer": o, "pair": p, "x": 0.1 * i, "y": 0.1 * i}
                            for o in ("momentum", "adam") for p in ("adjusted", "unadjusted") for i in range(5)])
    scatter.to_csv(d / "scatter.tsv", sep="\t", index=False)
    (d / "provenance.json").write_text(json.dumps({"commit": "c" * 40, "wall_s": 100.0,
                                                   "job_wall_s": {"a.tsv": 40.0, "b.tsv": 50.5}}))
    return d
