"""The paper-scale record assembled from its committed slices (paper A, arXiv 2405.05171, Tables 3–5).

Each slice folder ``b<bits>-seed<k>/`` (:mod:`stelab.qat.record_slice`) holds the rows of one
(bits, seed). :func:`assemble_record` concatenates every slice that exists and writes

``tables/``
    ``qat_table3``, ``qat_table4``, ``qat_table5`` (the live run's builders of
    :mod:`stelab.qat.tables`: mean ± sd and n seeds per bits; CSV and LaTeX), ``claims`` (claims A
    and B per optimizer and bits: geometric-mean ratio, 95 % t-interval, verdict and rule,
    :func:`stelab.qat.claims.claims_over_seeds`; CSV and LaTeX), ``table5_diff.csv`` (Q̂ − STE with
    intervals) and ``slices.csv`` (slice, bits, seed, commit, wall seconds, jobs);
``figures/``
    ``tracking`` (Ē over training, mean ± sd over seeds, at the paper's bit width) and
    ``scatter`` (Fig. 3 from the lowest seed's sampled weights) as PDF, SVG and PNG.

The slices are read, never changed; the record grows by committing more slices and running
``stelab record-tables`` again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import write_table
from ..report.latex import write_latex_table
from ..report.tables import plain
from . import claims as qc
from . import display
from . import paper_values as pv
from . import tables as qt
from .rows import read_rows

#: the record folder, relative to the repository root (``stelab record-tables`` and the ablation read it)
DEFAULT_RECORD = "docs/reproduction/mnist/record"
SLICE_NAME = re.compile(r"^b(\d+)-seed(\d+)$")
#: the provenance facts of the record for :func:`stelab.qat.display.claims_table`: real MNIST at paper scale
RECORD_FACTS = {"data_source": "download"}


def record_folder(path: str | None) -> Path:
    """The record folder of a ``--record`` option (None: :data:`DEFAULT_RECORD`); FileNotFoundError when it
    does not exist, saying for the default that it is relative to the repository root."""
    if path is None:
        if not Path(DEFAULT_RECORD).is_dir():
            raise FileNotFoundError(f"the default record folder {DEFAULT_RECORD} does not exist here: it is relative "
                                    "to the repository root; run from there or pass --record <folder>")
        return Path(DEFAULT_RECORD)
    if not Path(path).is_dir():
        raise FileNotFoundError(f"--record {path}: no such folder")
    return Path(path)


def slice_dirs(record_dir) -> list[Path]:
    """The slice folders of ``record_dir`` that hold a provenance.json, by (bits, seed)."""
    found = []
    for d in Path(record_dir).iterdir():
        m = SLICE_NAME.match(d.name)
        if m and (d / "provenance.json").is_file():
            found.append((int(m.group(1)), int(m.group(2)), d))
    return [d for _, _, d in sorted(found)]


def load_record(record_dir) -> dict:
    """{"runs", "pairs", "tracking", "scatter", "slices"} DataFrames over every slice of ``record_dir``.

    A slice whose rows name another (bits, seed) than its folder is refused (ValueError naming it), and so is
    a missing file or one without its table's columns (naming the slice and the file).
    """
    parts: dict = {k: [] for k in ("runs", "pairs", "tracking", "scatter")}
    slices = []
    for d in slice_dirs(record_dir):
        bits, seed = map(int, SLICE_NAME.match(d.name).groups())
        for name in ("runs", "pairs", "tracking"):
            df = read_rows(d / f"{name}.tsv", name, owner=f"record slice {d.name}")
            if not df.empty and (set(df["bits"]) != {bits} or set(df["seed"]) != {seed}):
                raise ValueError(f"{d / f'{name}.tsv'}: rows for bits {sorted(set(df['bits']))}, seeds "
                                 f"{sorted(set(df['seed']))}, but the folder is {d.name}")
            parts[name].append(df)
        scatter = read_rows(d / "scatter.tsv", "scatter", owner=f"record slice {d.name}")
        parts["scatter"].append(scatter.assign(bits=bits, seed=seed))
        prov = _provenance(d / "provenance.json")
        slices.append({"slice": d.name, "bits": bits, "seed": seed, "commit": prov["commit"],
                       "wall_s": prov["wall_s"], "jobs": len(prov["job_wall_s"]),
                       "job_wall_s_sum": round(sum(prov["job_wall_s"].values()), 1)})
    if not slices:
        raise ValueError(f"{record_dir}: no slice folders (b<bits>-seed<k>/ with provenance.json)")
    out = {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}
    out["slices"] = pd.DataFrame(slices)
    return out


def _provenance(path: Path) -> dict:
    """A slice's provenance.json, with the keys the record reads (ValueError naming the file otherwise)."""
    try:
        prov = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    missing = [k for k in ("commit", "wall_s", "job_wall_s") if not isinstance(prov, dict) or k not in prov]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(missing)} (written by stelab record-slice)")
    return prov


def tracking_over_seeds(tracking: pd.DataFrame) -> pd.DataFrame:
    """Ē (all normalisations) and agreement over training: mean and sd over seeds per (bits, optimizer,
    pair, step), with ``n_seeds``."""
    cols = [c for c in ("E_bar", "E_bar_m", "E_bar_path", "agreement") if c in tracking]
    g = tracking.groupby(["bits", "optimizer", "pair", "step"], sort=True)[cols]
    out = g.mean().add_suffix("_mean").join(g.std(ddof=1).add_suffix("_sd")).join(g.size().rename("n_seeds"))
    return out.reset_index()


def scatter_dict(scatter: pd.DataFrame, bits: int, seed: int, thresholds) -> dict:
    """The Fig. 3 arrays of one slice in the form :func:`stelab.qat.plots.plot_weight_scatter` reads."""
    s = scatter[(scatter["bits"] == bits) & (scatter["seed"] == seed)]
    out = {"thresholds": np.asarray(thresholds, dtype=float)}
    for (optimizer, pair), g in s.groupby(["optimizer", "pair"]):
        out[f"{optimizer}_{pair}_x"] = g["x"].to_numpy()
        out[f"{optimizer}_{pair}_y"] = g["y"].to_numpy()
    return out


def assemble_record(record_dir) -> dict:
    """Write ``tables/`` and ``figures/`` of ``record_dir`` from its slices; returns the tables written."""
    from ..quantizers import UniformQuantizer
    from ..report.theme import save_figure
    from .plots import plot_tracking, plot_weight_scatter

    record_dir = Path(record_dir)
    rec = load_record(record_dir)
    pairs, runs = rec["pairs"], rec["runs"]
    t3, t4, t5, claims = qt.table3(pairs), qt.table4(pairs), qt.table5(runs, pairs), qc.claims_over_seeds(pairs)
    tables = {"qat_table3": (t3, plain(display.table3(t3), display.TABLE3)),
              "qat_table4": (t4, plain(t4, display.TABLE4)),
              "qat_table5": (t5, plain(t5, display.TABLE5)),
              "claims": (claims, plain(display.claims_table(claims, t4, RECORD_FACTS), display.CLAIMS))}
    out = record_dir / "tables"
    for name, (df, shown) in tables.items():
        write_table(out / f"{name}.csv", df)
        write_latex_table(out / f"{name}.tex", shown)
    write_table(out / "table5_diff.csv", qc.table5_differences(pairs))
    write_table(out / "slices.csv", rec["slices"])
    write_table(out / "tracking.csv", tracking_over_seeds(rec["tracking"]))
    figures = record_dir / "figures"
    bits = pv.PAPER_BITS if pv.PAPER_BITS in set(rec["slices"]["bits"]) else int(rec["slices"]["bits"].min())
    save_figure(plot_tracking(rec["tracking"], bits=bits), figures, "tracking")
    seed = int(rec["slices"].loc[rec["slices"]["bits"] == bits, "seed"].min())
    q = UniformQuantizer(bits, 1.0, "range")
    save_figure(plot_weight_scatter(scatter_dict(rec["scatter"], bits, seed, q.thresholds)), figures, "scatter")
    return {name: df for name, (df, _) in tables.items()}
