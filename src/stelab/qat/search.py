"""Search for the settings that reproduce paper A's MNIST tables (arXiv 2405.05171, §6.3, Tables 4–5).

Each *point* is one workflow run (one seed, 2 bits, Q̂-net and STE-net per optimizer) with a
config overlay (``docs/reproduction/mnist/points/``), finished in its own folder with
``results/qat/runs.tsv`` and ``pairs.tsv``. :func:`search_table` puts every point beside the
paper: per optimizer the baseline pair's Ē in both normalisations (:mod:`stelab.qat.metrics`) and
quantized agreement (Table 4), and the STE-net's and Q̂-net's final train accuracy and loss
(Table 5), each with its distance to the paper's number: relative for Ē, (ours − paper)/paper;
absolute for percentages (points) and losses (nats), ours − paper.

    python -m stelab.qat.search runs/search/keras-5k runs/search/paper --out docs/reproduction/mnist/search.csv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from . import paper_values as pv

#: Table 5 columns of the search table: (net, metric)
NET_METRICS = (("ste", "train_acc"), ("ste", "train_loss"), ("qhat", "train_acc"), ("qhat", "train_loss"))


def _one(df: pd.DataFrame, what: str) -> pd.Series:
    if len(df) != 1:
        raise ValueError(f"search point: expected one row for {what}, found {len(df)} (one seed and 2 bits per point)")
    return df.iloc[0]


def point_rows(point: str, runs: pd.DataFrame, pairs: pd.DataFrame) -> list[dict]:
    """One row per optimizer of a finished point (its ``runs.tsv`` and ``pairs.tsv`` as DataFrames)."""
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
        rows.append(row)
    return rows


def search_table(points: dict) -> pd.DataFrame:
    """The search table of ``points`` = {name: (runs DataFrame, pairs DataFrame)}, in the given order."""
    rows = [r for name, (runs, pairs) in points.items() for r in point_rows(name, runs, pairs)]
    return pd.DataFrame(rows)


def load_point(folder) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(runs, pairs) of a finished point folder; a missing file raises FileNotFoundError naming it."""
    out = []
    for name in ("runs.tsv", "pairs.tsv"):
        path = Path(folder) / "results" / "qat" / name
        if not path.exists():
            raise FileNotFoundError(f"search point {folder}: {path} does not exist (point not finished)")
        out.append(pd.read_csv(path, sep="\t"))
    return out[0], out[1]


def provenance(folder) -> dict:
    """The point's ``provenance.json`` (commit, config sha256, versions, CPU, wall times) or {}."""
    path = Path(folder) / "provenance.json"
    return json.loads(path.read_text()) if path.exists() else {}


def main(argv=None) -> int:
    from ..io import write_table

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", help="finished point folders (runs/search/<point>)")
    ap.add_argument("--out", required=True, help="search table (.csv or .tsv)")
    args = ap.parse_args(argv)
    table = search_table({Path(f).name: load_point(f) for f in args.folders})
    info = {Path(f).name: provenance(f) for f in args.folders}
    table["commit"] = [info[p].get("commit", "")[:12] for p in table["point"]]
    table["point_wall_min"] = [info[p].get("wall_s", float("nan")) / 60 for p in table["point"]]
    write_table(args.out, table)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
