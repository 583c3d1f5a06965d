"""What produced a report: the provenance line every page and the landing page open with.

``stelab report provenance`` writes the facts once per run as JSON (:func:`write`); the pages read
them (:func:`read`) and show :func:`line` at the top. The facts: the config files in merge order,
the data source (real MNIST or synthetic digits), the QAT steps and images per run, the subsets,
bit widths and seeds, the theory dimension and seeds, the commit (and whether the checkout had
local changes) and the date.

A QAT run is at paper scale (paper A, arXiv 2405.05171, §6.1, as the authors' code trains: 50 Keras
epochs of 100 steps of 128 images, ``config/paper.yaml``) when it trains on real MNIST, on all
:data:`PAPER_TRAIN_IMAGES` training images, for at least :data:`PAPER_STEPS` steps per run
(:func:`scale_note` says which condition a run misses). A run on synthetic digits is no
reproduction at all: its claim verdicts read :data:`NOT_A_REPRODUCTION` (:func:`claim_verdict`).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import subprocess
from pathlib import Path

from ..io import write_text

#: the authors' training length: 50 Keras epochs × ``steps_per_epoch: 100`` (docs/reproduction/mnist)
PAPER_STEPS = 5000
#: MNIST's training set, all of which the paper trains on
PAPER_TRAIN_IMAGES = 60000
#: the verdict every claim of a synthetic-data run shows instead of holds/fails
NOT_A_REPRODUCTION = "not a reproduction"
#: data.source → how the line names the data
DATA_TEXT = {"download": "real MNIST (downloaded, MD5-verified)", "folder": "real MNIST (IDX files from data.folder)",
             "synthetic": "synthetic seven-segment digits, not MNIST"}


def git_commit(root) -> tuple[str, bool]:
    """(commit, local changes?) of the checkout at ``root``; ("unknown", False) outside a git checkout."""
    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout

    try:
        commit = git("rev-parse", "HEAD").strip()
        dirty = bool(git("status", "--porcelain", "--untracked-files=no").strip())
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return commit, dirty


def config_names(configfiles, root) -> list[str]:
    """Config file paths in merge order, relative to the workflow's ``root`` when inside it."""
    out = []
    for f in configfiles:
        p = Path(f).resolve()
        try:
            out.append(str(p.relative_to(Path(root).resolve())))
        except ValueError:
            out.append(str(f))
    return out


def facts(config: dict, configfiles: list[str], commit: str, local_changes: bool, qat_steps: int | None,
          qat_images: int | None, date: str | None = None) -> dict:
    """The provenance facts of a run: ``config`` is the merged config, ``qat_steps``/``qat_images`` the
    optimizer steps and training images of one QAT run (None when the run has no QAT track)."""
    data, qat, theory = config.get("data", {}), config.get("qat"), config.get("theory")
    source = data.get("source", "download")
    out = {"configfiles": list(configfiles), "data_source": source,
           "data": "ImageFolder (data.imagefolder)" if qat and qat.get("model", {}).get("name", "").startswith("resnet")
           else DATA_TEXT.get(source, source),
           "commit": commit, "local_changes": bool(local_changes),
           "date": date or dt.date.today().isoformat(), "qat": None, "theory": None}
    if qat is not None and qat_steps is not None:
        bits = [qat["quantize"]["bits"]] + [e["bits"] for e in qat.get("extra_bits", [])]
        out["qat"] = {"steps": int(qat_steps), "images": int(qat_images), "epochs": int(qat["epochs"]),
                      "batch_size": int(qat["batch_size"]), "val_subset": qat.get("val_subset"),
                      "eval_train_subset": qat.get("eval_train_subset"), "bits": bits,
                      "seeds": list(qat["seeds"]), "optimizers": sorted(qat["optimizers"])}
    if theory is not None:
        out["theory"] = {"d": theory["sim"]["d"], "seeds": list(theory["sim"]["seeds"])}
    out["paper_scale"] = not scale_shortfalls(out)
    return out


def scale_shortfalls(f: dict) -> list[str]:
    """Why the QAT runs of facts ``f`` are not at paper scale (empty: they are, or there are none)."""
    q = f.get("qat")
    if not q:
        return []
    short = []
    if f["data_source"] == "synthetic":
        short.append("synthetic digits, not MNIST")
    if q["images"] < PAPER_TRAIN_IMAGES:
        short.append(f"{q['images']:,} of MNIST's {PAPER_TRAIN_IMAGES:,} training images")
    if q["steps"] < PAPER_STEPS:
        short.append(f"{q['steps']:,} steps per run (the authors' code: {PAPER_STEPS:,})")
    return short


def _epochs(q: dict) -> str:
    return f"{q['epochs']} epoch{'s' if q['epochs'] != 1 else ''} of {q['images']:,} images"


def scale_note(f: dict) -> str:
    """The sentence beside Tables 4 and 5: paper scale, or what this run is and where to look instead."""
    q = f.get("qat")
    if not q:
        return "No QAT runs in this report."
    if f["data_source"] == "synthetic":
        return (f"{_epochs(q)} ({q['steps']:,} steps) of synthetic digits: a test of the workflow, "
                f"{NOT_A_REPRODUCTION}; see the record for paper scale.")
    if f["paper_scale"]:
        return f"Paper scale: {_epochs(q)} ({q['steps']:,} steps of {q['batch_size']}) per run."
    return (f"Not paper scale: {_epochs(q)} ({q['steps']:,} steps of {q['batch_size']}) per run; "
            f"Ē grows with training; see the record. Short of the paper: {'; '.join(scale_shortfalls(f))}.")


def claim_verdict(f: dict, verdict: str) -> str:
    """A claim's verdict as this run may state it: :data:`NOT_A_REPRODUCTION` on synthetic data."""
    return NOT_A_REPRODUCTION if f.get("data_source") == "synthetic" and verdict in ("holds", "fails",
                                                                                     "undecided", "1 seed") else verdict


def _seeds(seeds) -> str:
    return ", ".join(str(s) for s in seeds)


def line(f: dict) -> str:
    """The provenance line (plain text): configs · data · QAT scale · theory · commit · date."""
    parts = [f"Config: {' + '.join(f['configfiles']) or 'none'}", f"data: {f['data']}"]
    q = f.get("qat")
    if q:
        subsets = [f"validation {q['val_subset']:,} images" if q["val_subset"] else "all validation images"]
        if q["eval_train_subset"]:
            subsets.append(f"train metrics per epoch on {q['eval_train_subset']:,}")
        parts.append(f"QAT: {q['steps']:,} steps × batch {q['batch_size']} per run ({_epochs(q)}; "
                     f"{'; '.join(subsets)}), {'/'.join(str(b) for b in q['bits'])} bit, "
                     f"seed{'s' if len(q['seeds']) > 1 else ''} {_seeds(q['seeds'])}")
    t = f.get("theory")
    if t:
        parts.append(f"theory: d = {t['d']:,}, seed{'s' if len(t['seeds']) > 1 else ''} {_seeds(t['seeds'])}")
    commit = f["commit"][:10] + (" with local changes" if f["local_changes"] else "")
    parts += [f"commit {commit}", f"built {f['date']}"]
    return " · ".join(parts)


def to_html(f: dict) -> str:
    """The provenance line as an HTML paragraph (class ``provenance``), with the scale note when not paper scale."""
    scale = "" if f.get("paper_scale") or not f.get("qat") else f" <strong>{html.escape(scale_note(f))}</strong>"
    return f'<p class="provenance">{html.escape(line(f))}.{scale}</p>'


def scale_html(f: dict) -> str:
    """The scale note (:func:`scale_note`) as an HTML paragraph, emphasised when not at paper scale."""
    weight = "normal" if f.get("paper_scale") else "600"
    return f'<p class="scale" style="color:#6b4a00;font-weight:{weight}">{html.escape(scale_note(f))}</p>'


class Provenance:
    """The provenance line for a notebook cell (Jupyter shows its HTML)."""

    def __init__(self, f: dict):
        self.facts = f

    def _repr_html_(self) -> str:
        style = "background:#f5f7fa;border-left:4px solid #8aa;padding:.4rem .8rem;font-size:.9rem"
        return to_html(self.facts).replace('class="provenance"', f'class="provenance" style="{style}"', 1)


def write(path, f: dict) -> None:
    """Write facts ``f`` as JSON, atomically."""
    write_text(path, json.dumps(f, indent=2, sort_keys=True) + "\n")


def read(path) -> dict:
    """The facts written by :func:`write`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"provenance file {path} does not exist")
    return json.loads(path.read_text())
