"""The QAT jobs behind ``stelab pretrain``, ``fork``, ``train-branch``, ``compare`` and ``qat-tables``.

Paper A (arXiv 2405.05171) §6: the Q̂-net is pretrained for a fraction of the schedule (§6.1,
"Identical initial training period"), forked into the branches, each trained to the end, then
compared (§6.2) and tabulated (Tables 3–5).

Each job reads its inputs, decides whether a resume checkpoint may be used, chooses the data
(MNIST tensors, or ImageFolder DataLoaders for a ResNet), runs, and writes its outputs
atomically. The command-line layer (:mod:`stelab.commands.qat`) only parses arguments.
"""

from __future__ import annotations

from pathlib import Path

from ..io import atomic_path, write_json, write_table
from ..latex import write_latex_table
from .checkpoints import init_checkpoint, load_checkpoint, save_checkpoint
from .device import pick_device
from .inputs import data_for_run, imagefolder_data, imagefolder_n_train, n_train_of
from .loop import train
from .settings import LR_TWEAK, RESNETS, RunSettings, run_from_config


def resume_or(start: dict, ckpt_path: Path) -> dict:
    """The saved checkpoint when it belongs to the same run, otherwise ``start`` (a stale one is ignored)."""
    if not ckpt_path.exists():
        return start
    try:
        saved = load_checkpoint(ckpt_path)
    except ValueError as exc:
        print(f"ignoring checkpoint {ckpt_path}: {exc}", flush=True)
        return start
    if saved["run"] != start["run"]:
        print(f"ignoring checkpoint {ckpt_path}: it belongs to a different run (settings changed)", flush=True)
        return start
    print(f"resuming from {ckpt_path} at step {saved['step']}", flush=True)
    return saved


def imagefolder_size(root) -> tuple[int, int]:
    """(training images, classes) of the ImageFolder ``root``; a missing or malformed one names data.imagefolder."""
    try:
        return imagefolder_n_train(root)
    except (FileNotFoundError, ValueError) as exc:
        raise ValueError(f"data.imagefolder: {exc}") from None


def train_data(data_dir, run: RunSettings, workers: int = 0, pin_memory: bool = False) -> dict:
    """The run's data from ``data_dir``: MNIST tensors in memory, or ImageFolder DataLoaders for a ResNet."""
    if run.uses_imagefolder:
        imagefolder_size(data_dir)
        if workers < 0:
            raise ValueError(f"--workers must be >= 0, got {workers}")
        return imagefolder_data(data_dir, run, workers, pin_memory and pick_device().type == "cuda")
    from ..data.idx import load_mnist

    return data_for_run(load_mnist(data_dir), run)


def pretrain(qat: dict, *, data_dir, optimizer: str, seed: int, lr_factor: float, bits: int | None, out,
             ckpt_path: Path, checkpoint_every: int, workers: int = 0, pin_memory: bool = False) -> None:
    """Train the Q̂-net of (optimizer, seed, lr factor, bits) up to the fork point and save it to ``out``.

    For a ResNet the class count comes from the ImageFolder (and must match qat.model.num_classes).
    """
    model = dict(qat.get("model") or {})
    if model.get("name") in RESNETS:
        n_train, n_classes = imagefolder_size(data_dir)
        if model.setdefault("num_classes", n_classes) != n_classes:
            raise ValueError(f"qat.model.num_classes is {model['num_classes']} but data.imagefolder {data_dir} "
                             f"has {n_classes} classes")
        qat = {**qat, "model": model}
    else:
        from ..data.idx import load_mnist

        n_train = n_train_of(load_mnist(data_dir), qat.get("train_subset"))
    run = run_from_config(qat, optimizer, seed, n_train, lr_factor, bits)
    start = resume_or(init_checkpoint(run), ckpt_path)
    final = train(start, train_data(data_dir, run, workers, pin_memory), run.pretrain_steps,
                  checkpoint_path=ckpt_path, checkpoint_every=checkpoint_every, label="pretrain")
    save_checkpoint(out, final)
    ckpt_path.unlink(missing_ok=True)


def fork_branch(qat: dict, *, pretrained, variant: str, out) -> None:
    """Derive ``variant`` from the fork-point checkpoint ``pretrained`` (:func:`stelab.qat.fork.fork`)."""
    from .fork import fork

    branch = fork(load_checkpoint(pretrained), variant, float(qat.get("lr_tweak", LR_TWEAK)),
                  qat.get("ste_lr_scope", "quantized"))
    save_checkpoint(out, branch)


def train_branch(*, init, data_dir, out, history, snapshots, ckpt_path: Path, checkpoint_every: int,
                 workers: int = 0, pin_memory: bool = False) -> None:
    """Train the branch ``init`` to the end of its schedule; write final checkpoint, history and snapshots."""
    import pandas as pd

    start = load_checkpoint(init)
    run = start["run"]
    data = train_data(data_dir, run, workers, pin_memory)
    start = resume_or(start, ckpt_path)
    final = train(start, data, checkpoint_path=ckpt_path, checkpoint_every=checkpoint_every,
                  label=f"{run.optimizer}/{run.variant}")
    snaps = final.pop("snapshots")
    save_checkpoint(snapshots, {"run": run, "steps": snaps["steps"], "weights": dict(snaps["weights"])})
    write_table(history, pd.DataFrame(final["history"]))
    save_checkpoint(out, {**final, "snapshots": {"steps": [], "weights": {}}})
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
    """Tables 3–5 and the lr sweep as .csv, .tsv and .tex (:mod:`stelab.latex`: compiles with pdflatex),
    plus the sweep's log-log fit (JSON)."""
    import pandas as pd

    from . import tables as qt

    pairs = pd.read_csv(pairs, sep="\t")
    runs = pd.read_csv(runs, sep="\t")
    out = Path(out_dir)
    sweep, fits = qt.lr_sweep(pairs)
    tables = {
        "qat_table3": (qt.table3(pairs), qt.TABLE3_DISPLAY, None),
        "qat_table4": (qt.table4(pairs), qt.TABLE4_DISPLAY, None),
        "qat_table5": (qt.table5(runs, pairs), qt.TABLE5_DISPLAY, qt.TABLE5_DIGITS),
        "qat_lr_sweep": (sweep, {"Optimizer": "optimizer", "η factor": "sweep_factor",
                                 "Ē (%)": ("E_bar_mean", "E_bar_sd"),
                                 "Agreement (%)": ("agreement_mean", "agreement_sd")}, None),
    }
    for name, (df, display, digits) in tables.items():
        write_table(out / f"{name}.csv", df)
        write_table(out / f"{name}.tsv", df)
        write_latex_table(out / f"{name}.tex", qt.display_table(df, display, digits))
    write_json(out / "qat_lr_sweep_fit.json", fits)
