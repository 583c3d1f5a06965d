"""Search for the settings that reproduce paper A's MNIST tables (arXiv 2405.05171, §6.3, Tables 4–5).

Each *point* is one workflow run (one seed, 2 bits, Q̂-net and STE-net per optimizer) with a
config overlay (``docs/reproduction/mnist/points/``), finished in its own folder with
``results/qat/runs.tsv`` and ``pairs.tsv``. :func:`search_table` puts every point beside the
paper: per optimizer the baseline pair's Ē in both normalisations (:mod:`stelab.qat.metrics`) and
quantized agreement (Table 4), and the STE-net's and Q̂-net's final train accuracy and loss
(Table 5), each with its distance to the paper's number: relative for Ē, (ours − paper)/paper;
absolute for percentages (points) and losses (nats), ours − paper. The authors' Keras code
reports a training loss that includes its ``l2(c)`` penalty c·Σw² over every kernel and bias;
with the weight decay λ = 2c of a run (:func:`l2_terms`) the table adds ``<net>_train_loss_keras``
= cross-entropy + (λ/2)·Σw², the number comparable with Table 5 when λ > 0.

    python -m stelab.qat.search runs/search/keras-5k runs/search/paper --out docs/reproduction/mnist/search.csv
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from . import paper_values as pv

#: Table 5 columns of the search table: (net, metric)
NET_METRICS = (("ste", "train_acc"), ("ste", "train_loss"), ("qhat", "train_acc"), ("qhat", "train_loss"))
#: the columns the search table reads from a point's runs.tsv and pairs.tsv
POINT_COLUMNS = {"runs": ("bits", "sweep_factor", "optimizer", "variant", "train_acc", "train_loss"),
                 "pairs": ("bits", "sweep_factor", "optimizer", "pair", "E_bar", "agreement")}


def _one(df: pd.DataFrame, what: str) -> pd.Series:
    if len(df) != 1:
        raise ValueError(f"search point: expected one row for {what}, found {len(df)} (one seed and 2 bits per point)")
    return df.iloc[0]


def point_rows(point: str, runs: pd.DataFrame, pairs: pd.DataFrame, l2: dict | None = None) -> list[dict]:
    """One row per optimizer of a finished point (its ``runs.tsv`` and ``pairs.tsv`` as DataFrames);
    ``l2``: {(optimizer, variant): (λ/2)·Σw²} of its final weights (:func:`l2_terms`), or None."""
    rows = []
    bits = pv.PAPER_BITS
    main_runs = runs[(runs["bits"] == bits) & (runs["sweep_factor"] == 1.0)]
    main_pairs = pairs[(pairs["bits"] == bits) & (pairs["sweep_factor"] == 1.0) & (pairs["pair"] == "baseline")]
    for optimizer in [o for o in pv.OPTIMIZER_LABEL if o in set(main_pairs["optimizer"])]:
        pair = _one(main_pairs[main_pairs["optimizer"] == optimizer], f"the {optimizer} baseline pair")
        paper4 = pv.TABLE4_MNIST[(optimizer, "baseline")]
        row = {"point": point, "optimizer": optimizer}
        for col in ("E_bar", "E_bar_path"):
            value = float(pair[col]) if col in pair else float("nan")
            row[col] = value
            row[f"{col}_rel_to_paper"] = (value - paper4["E_bar"]) / paper4["E_bar"]
        row["agreement"] = float(pair["agreement"])
        row["agreement_minus_paper"] = row["agreement"] - paper4["agreement"]
        for net, metric in NET_METRICS:
            r = _one(main_runs[(main_runs["optimizer"] == optimizer) & (main_runs["variant"] == net)],
                     f"the {optimizer} {net} run")
            value = float(r[metric])
            row[f"{net}_{metric}"] = value
            row[f"{net}_{metric}_minus_paper"] = value - pv.TABLE5_MNIST[(optimizer, net)][metric]
        if l2 is not None:
            for net in ("ste", "qhat"):
                value = row[f"{net}_train_loss"] + l2[(optimizer, net)]
                row[f"{net}_train_loss_keras"] = value
                row[f"{net}_train_loss_keras_minus_paper"] = value - pv.TABLE5_MNIST[(optimizer, net)]["train_loss"]
        rows.append(row)
    return rows


def search_table(points: dict) -> pd.DataFrame:
    """The search table of ``points`` = {name: (runs, pairs[, l2])} (see :func:`point_rows`), in the given order."""
    rows = [r for name, parts in points.items() for r in point_rows(name, *parts)]
    return pd.DataFrame(rows)


def l2_term(ckpt: dict) -> float:
    """(λ/2)·Σw² over every parameter of a checkpoint, λ its run's weight decay (Keras l2(λ/2))."""
    from .checkpoints import build

    model, _ = build(ckpt["run"])
    names = {n for n, _ in model.named_parameters()}
    total = sum(float(v.double().pow(2).sum()) for k, v in ckpt["model"].items() if k in names)
    return ckpt["run"].weight_decay / 2 * total


def l2_terms(folder, bits: int = pv.PAPER_BITS) -> dict | None:
    """{(optimizer, variant): :func:`l2_term`} of the final branch checkpoints of a point folder
    (None when it holds none, e.g. the checkpoints were removed)."""
    from .checkpoints import load_checkpoint

    out = {}
    for path in sorted(Path(folder, "results", "qat", f"b{bits}").glob("*/lr1/seed*/*/final.pt")):
        ckpt = load_checkpoint(path)
        out[(ckpt["run"].optimizer, ckpt["run"].variant)] = l2_term(ckpt)
    return out or None


def load_point(folder, columns: dict = POINT_COLUMNS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, pairs) of a finished point folder; a missing folder or file raises FileNotFoundError naming it,
    a table without the ``columns`` of its name ValueError naming the file and them (:mod:`.rows`)."""
    from .rows import read_rows

    if not Path(folder).is_dir():
        raise FileNotFoundError(f"search point {folder}: no such folder")
    qat = Path(folder) / "results" / "qat"
    for name in ("runs.tsv", "pairs.tsv"):
        if not (qat / name).is_file():
            raise FileNotFoundError(f"search point {folder}: {qat / name} does not exist (point not finished)")
    owner = f"search point {folder}"
    return (read_rows(qat / "runs.tsv", "runs", owner, columns["runs"]),
            read_rows(qat / "pairs.tsv", "pairs", owner, columns["pairs"]))


def run_main(ap: argparse.ArgumentParser, argv, body) -> int:
    """Parse ``argv`` with ``ap`` and run ``body(args)``; an error in the inputs (a missing folder or file, a
    table without its columns) ends with one line naming it on stderr and exit status 2."""
    args = ap.parse_args(argv)
    try:
        return body(args)
    except (OSError, ValueError, KeyError) as exc:
        print(f"{ap.prog}: error: {exc}", file=sys.stderr)
        return 2


def provenance(folder) -> dict:
    """The point's ``provenance.json`` (commit, config sha256, versions, CPU, wall times) or {}."""
    path = Path(folder) / "provenance.json"
    return json.loads(path.read_text()) if path.exists() else {}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stelab.qat.search", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", help="finished point folders (runs/search/<point>)")
    ap.add_argument("--out", required=True, help="search table (.csv or .tsv)")
    return run_main(ap, argv, _search)


def _search(args) -> int:
    from ..io import write_table

    table = search_table({Path(f).name: (*load_point(f), l2_terms(f)) for f in args.folders})
    info = {Path(f).name: provenance(f) for f in args.folders}
    table["commit"] = [info[p].get("commit", "")[:12] for p in table["point"]]
    table["point_wall_min"] = [info[p].get("wall_s", float("nan")) / 60 for p in table["point"]]
    write_table(args.out, table)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
