"""The QAT jobs behind ``stelab pretrain``, ``fork``, ``train-branch``, ``compare`` and ``qat-tables``.

Paper A (arXiv 2405.05171) §6: the Q̂-net is pretrained for a fraction of the schedule (§6.1,
"Identical initial training period"), forked into the branches, each trained to the end, then
compared (§6.2) and tabulated (Tables 3–5).

Each job resolves its device first (a GPU job without a GPU fails before any work), reads its
inputs (a damaged checkpoint or data file is an error naming it), checks that the data holds
what the run asks for, decides whether a resume checkpoint may be used (only one written by the
same job: :mod:`stelab.qat.identity`; a damaged one is set aside as ``*.corrupt``), runs
(divergence: :mod:`stelab.qat.divergence`), and writes its outputs atomically, a branch's four
together or none. The command-line layer (:mod:`stelab.commands.qat`) parses and checks arguments.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..io import atomic_path, atomic_paths, write_json, write_table
from ..report.latex import write_latex_table
from .checkpoints import (CheckpointError, checkpoint_digest, init_checkpoint, load_checkpoint, save_checkpoint,
                          verify_loadable)
from .device import device_name, pick_device
from .identity import bytes_digest, identity_differences, imagefolder_digest, job_identity, tensor_data_digest
from .inputs import data_for_run, imagefolder_data, imagefolder_n_train
from .loop import train
from .settings import LR_TWEAK, RESNETS, RunSettings, run_from_config

#: columns of a branch's timings.tsv (wall-clock seconds per epoch, kept out of history.tsv)
TIMING_COLUMNS = ("epoch", "step", "seconds")


def resume_or(start: dict, ckpt_path: Path) -> dict:
    """The resume checkpoint at ``ckpt_path`` when it was written by this very job, else ``start``.

    "This very job": its recorded identity (:mod:`stelab.qat.identity`: run settings, start
    checkpoint, data, threads, device, versions) equals ``start["identity"]``. A checkpoint of
    another job is deleted with a line naming what differed; an unreadable one (truncated,
    damaged, incomplete) is renamed ``*.corrupt`` with a line saying why. Training then restarts.
    """
    if not ckpt_path.exists():
        return start
    try:
        saved = load_checkpoint(ckpt_path)
    except CheckpointError as exc:
        return _set_aside(ckpt_path, exc, start)
    differences = identity_differences(saved.get("identity"), start["identity"])
    if differences:
        ckpt_path.unlink()
        print(f"discarding resume checkpoint {ckpt_path}: it was written by a different job "
              f"({'; '.join(differences)}); training restarts", flush=True)
        return start
    try:
        verify_loadable(saved, ckpt_path)
    except CheckpointError as exc:
        return _set_aside(ckpt_path, exc, start)
    print(f"resuming from {ckpt_path} at step {saved['step']}", flush=True)
    return saved


def _set_aside(ckpt_path: Path, exc: Exception, start: dict) -> dict:
    aside = ckpt_path.with_name(ckpt_path.name + ".corrupt")
    os.replace(ckpt_path, aside)
    print(f"setting aside the unusable resume checkpoint {ckpt_path} as {aside} ({exc}); training restarts",
          flush=True)
    return start


def imagefolder_size(root) -> tuple[int, int]:
    """(training images, classes) of the ImageFolder ``root``; a missing or malformed one names data.imagefolder."""
    try:
        return imagefolder_n_train(root)
    except (FileNotFoundError, ValueError) as exc:
        raise ValueError(f"data.imagefolder: {exc}") from None


def check_subsets(raw: dict, data_dir, *, train_subset, val_subset, eval_train_subset) -> int:
    """The training-set size after ``train_subset``; a subset larger than what it is cut from
    raises ValueError naming the key and both sizes (instead of silently using less)."""
    n_train, n_val = len(raw["train"][1]), len(raw["test"][1])
    if train_subset and int(train_subset) > n_train:
        raise ValueError(f"qat.train_subset: {train_subset} exceeds the {n_train} training examples in {data_dir}")
    if val_subset and int(val_subset) > n_val:
        raise ValueError(f"qat.val_subset: {val_subset} exceeds the {n_val} test examples in {data_dir}")
    used = int(train_subset) if train_subset else n_train
    if eval_train_subset and int(eval_train_subset) > used:
        raise ValueError(f"qat.eval_train_subset: {eval_train_subset} exceeds the {used} training examples the run "
                         "trains on (qat.train_subset or the whole training set)")
    return used


def _load_mnist(data_dir) -> dict:
    from ..data.idx import load_mnist

    return load_mnist(data_dir)


def train_data(data_dir, run: RunSettings, device, workers: int = 0, pin_memory: bool = False,
               raw: dict | None = None) -> tuple[dict, str]:
    """The run's data from ``data_dir`` and its digest (:mod:`stelab.qat.identity`): MNIST tensors in
    memory (``raw``: the IDX arrays, when already read), or ImageFolder DataLoaders for a ResNet."""
    if run.uses_imagefolder:
        imagefolder_size(data_dir)
        if workers < 0:
            raise ValueError(f"--workers must be >= 0, got {workers}")
        data = imagefolder_data(data_dir, run, workers, pin_memory and device.type == "cuda")
        return data, imagefolder_digest(data_dir)
    raw = _load_mnist(data_dir) if raw is None else raw
    n_train = check_subsets(raw, data_dir, train_subset=run.train_subset, val_subset=run.val_subset,
                            eval_train_subset=run.eval_train_subset)
    if n_train != run.n_train:
        raise ValueError(f"{data_dir}: the run trains on {n_train} examples here but was set up for {run.n_train} "
                         "(the data changed since pretraining: rerun pretrain and fork)")
    data = data_for_run(raw, run)
    return data, tensor_data_digest(data)


def pretrain(qat: dict, *, data_dir, optimizer: str, seed: int, lr_factor: float, bits: int | None, out,
             ckpt_path: Path, checkpoint_every: int, workers: int = 0, pin_memory: bool = False,
             device: str = "auto", on_divergence: str = "stop") -> None:
    """Train the Q̂-net of (optimizer, seed, lr factor, bits) up to the fork point and save it to ``out``.

    For a ResNet the class count comes from the ImageFolder (and must match qat.model.num_classes).
    ``device`` (auto, cpu, cuda) is resolved before anything else, so a GPU job without a GPU
    fails at once; ``on_divergence``: :mod:`stelab.qat.divergence`.
    """
    dev = pick_device(device)
    model = dict(qat.get("model") or {})
    raw = None
    if model.get("name") in RESNETS:
        n_train, n_classes = imagefolder_size(data_dir)
        if model.setdefault("num_classes", n_classes) != n_classes:
            raise ValueError(f"qat.model.num_classes is {model['num_classes']} but data.imagefolder {data_dir} "
                             f"has {n_classes} classes")
        qat = {**qat, "model": model}
    else:
        raw = _load_mnist(data_dir)
        n_train = check_subsets(raw, data_dir, train_subset=qat.get("train_subset"), val_subset=qat.get("val_subset"),
                                eval_train_subset=qat.get("eval_train_subset"))
    run = run_from_config(qat, optimizer, seed, n_train, lr_factor, bits)
    data, data_digest = train_data(data_dir, run, dev, workers, pin_memory, raw=raw)
    start = init_checkpoint(run)
    identity = job_identity(run, start=checkpoint_digest(start), data=data_digest, device=device_name(dev))
    start = resume_or({**start, "identity": identity}, ckpt_path)
    final = train(start, data, run.pretrain_steps, checkpoint_path=ckpt_path, checkpoint_every=checkpoint_every,
                  device=dev, label="pretrain", on_divergence=on_divergence)
    final.pop("timings")
    save_checkpoint(out, final)
    ckpt_path.unlink(missing_ok=True)


def fork_branch(qat: dict, *, pretrained, variant: str, out) -> None:
    """Derive ``variant`` from the fork-point checkpoint ``pretrained`` (:func:`stelab.qat.fork.fork`);
    the pretraining's divergence state (a kept ``diverged`` mark, the count of exploding-loss steps)
    carries over to the branch."""
    from .fork import fork

    pre = load_checkpoint(pretrained)
    verify_loadable(pre, pretrained)
    branch = fork(pre, variant, float(qat.get("lr_tweak", LR_TWEAK)), qat.get("ste_lr_scope", "quantized"))
    save_checkpoint(out, {**branch, "diverged": pre.get("diverged"), "loss_streak": pre.get("loss_streak", 0)})


def train_branch(*, init, data_dir, out, history, timings, snapshots, ckpt_path: Path, checkpoint_every: int,
                 workers: int = 0, pin_memory: bool = False, device: str = "auto", on_divergence: str = "stop") -> None:
    """Train the branch ``init`` to the end of its schedule; write the final checkpoint, history,
    timings and snapshots together (all four or none)."""
    import pandas as pd

    dev = pick_device(device)
    init = Path(init)
    start = load_checkpoint(init)
    verify_loadable(start, init)
    run = start["run"]
    data, data_digest = train_data(data_dir, run, dev, workers, pin_memory)
    identity = job_identity(run, start=bytes_digest(init.read_bytes()), data=data_digest, device=device_name(dev))
    start = resume_or({**start, "identity": identity}, ckpt_path)
    final = train(start, data, checkpoint_path=ckpt_path, checkpoint_every=checkpoint_every, device=dev,
                  label=f"{run.optimizer}/{run.variant}", on_divergence=on_divergence)
    snaps = final.pop("snapshots")
    seconds = pd.DataFrame(final.pop("timings"), columns=list(TIMING_COLUMNS))
    with atomic_paths(history, timings, snapshots, out) as (history_tmp, timings_tmp, snapshots_tmp, out_tmp):
        write_table(history_tmp, pd.DataFrame(final["history"]))
        write_table(timings_tmp, seconds)
        save_checkpoint(snapshots_tmp, {"run": run, "steps": snaps["steps"], "weights": dict(snaps["weights"])})
        save_checkpoint(out_tmp, {**final, "snapshots": {"steps": [], "weights": {}}})
    ckpt_path.unlink(missing_ok=True)


def compare(*, runs, snapshots, runs_out, pairs_out, tracking_out, scatter_out, scatter_points: int,
            scatter_bits: int | None) -> None:
    """Compare every branch pair (:func:`stelab.qat.compare.compare_runs`) and write the four outputs."""
    import numpy as np

    from .compare import compare_runs

    res = compare_runs(runs, snapshots, scatter_points, scatter_bits)
    write_table(runs_out, res["runs"])
    write_table(pairs_out, res["pairs"])
    write_table(tracking_out, res["tracking"])
    with atomic_path(scatter_out) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **res["scatter"])


def write_tables(*, pairs, runs, out_dir) -> None:
    """Tables 3–5 and the lr sweep as .csv, .tsv and .tex (:mod:`stelab.report.latex`: compiles with pdflatex;
    cells as the report pages write them, :mod:`stelab.qat.display`), plus the sweep's log-log fit (JSON).
    A ``pairs`` or ``runs`` file without its table's columns is refused naming the file (:mod:`.rows`)."""
    from ..report.tables import plain
    from . import display
    from . import tables as qt
    from .rows import read_rows

    pairs = read_rows(pairs, "pairs")
    runs = read_rows(runs, "runs")
    out = Path(out_dir)
    sweep, fits = qt.lr_sweep(pairs)
    t3 = qt.table3(pairs)
    tables = {
        "qat_table3": (t3, plain(display.table3(t3), display.TABLE3)),
        "qat_table4": (t4 := qt.table4(pairs), plain(t4, display.TABLE4)),
        "qat_table5": (t5 := qt.table5(runs, pairs), plain(t5, display.TABLE5)),
        "qat_lr_sweep": (sweep, plain(sweep, display.LR_SWEEP)),
    }
    for name, (df, shown) in tables.items():
        write_table(out / f"{name}.csv", df)
        write_table(out / f"{name}.tsv", df)
        write_latex_table(out / f"{name}.tex", shown)
    write_json(out / "qat_lr_sweep_fit.json", fits)
