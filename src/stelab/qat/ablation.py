"""Where Ē comes from: ``config/paper.yaml`` with one of the authors' extras removed (paper A, arXiv
2405.05171, §6.3, Table 4; the extras are weight decay, quantized biases and the third max-pool).

An *ablation point* is a search point (``docs/reproduction/mnist/points/paper-no-*.yaml``) that runs
the baseline pairs of both optimizers over several seeds. It is compared with the paper-scale
record (``docs/reproduction/mnist/record/``), which runs ``config/paper.yaml`` itself, seed by seed:
the same seed gives both runs the same initial weights and batches, so the effect of the removed
extra is the per-seed ratio

    r_s = Ē_m(point, seed s) / Ē_m(record, seed s),      Ē_m = mean |Δw| / m (:mod:`stelab.qat.metrics`),

summarised like the claims (:func:`stelab.qat.claims.ratio_interval`): its geometric mean with a
95 % t-interval of mean log r. The reading: the extra *raises* Ē when the interval lies below 1
(removing it lowers Ē), *lowers* Ē when the interval lies above 1, and no effect is shown when the
interval contains 1 or there is one seed only.

    python -m stelab.qat.ablation runs/search/paper-no-wd runs/search/paper-no-bias \\
        --record docs/reproduction/mnist/record --out docs/reproduction/mnist/ablation.csv
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from ..optimizers import OPTIMIZERS
from . import paper_values as pv
from .claims import ratio_interval

#: the comparison normalisation (the one Table 4 compares with the paper)
COLUMN = pv.COMPARED_AS
COLUMNS = ["point", "optimizer", "n_seeds", "seeds", f"{COLUMN}_mean", f"{COLUMN}_sd", f"{COLUMN}_record_mean",
           "ratio", "ratio_lo", "ratio_hi", "agreement_mean", "agreement_record_mean", "reading"]
#: the columns the ablation reads from a point's runs.tsv (none) and pairs.tsv
POINT_COLUMNS = {"runs": (), "pairs": ("bits", "sweep_factor", "seed", "optimizer", "pair", "diverged", COLUMN,
                                       "agreement")}


def baseline_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """The main-run baseline pairs at the paper's bit width that did not diverge."""
    keep = ((pairs["pair"] == "baseline") & (pairs["bits"] == pv.PAPER_BITS) & (pairs["sweep_factor"] == 1.0)
            & ~pairs["diverged"].astype(bool))
    return pairs[keep]


def reading(row: dict) -> str:
    """What the interval of Ē(point)/Ē(record) says about the removed extra (see the module's rule)."""
    if row["n_seeds"] < 2 or math.isnan(row["ratio_lo"]):
        return "no interval (one seed)"
    if row["ratio_hi"] < 1:
        return f"the extra raises Ē: {1 / row['ratio']:.2f}× with it"
    if row["ratio_lo"] > 1:
        return f"the extra lowers Ē: {row['ratio']:.2f}× without it"
    return "no effect shown (the interval contains 1)"


def ablation_rows(point: str, pairs: pd.DataFrame, record_pairs: pd.DataFrame) -> list[dict]:
    """One row per optimizer of a point: Ē_m over its seeds, the record's over the same seeds, and the
    per-seed ratio's geometric mean and interval. A point seed missing from the record raises
    ValueError naming it (the comparison needs the same seed on both sides)."""
    ours, ref = baseline_pairs(pairs), baseline_pairs(record_pairs)
    rows = []
    for optimizer in [o for o in OPTIMIZERS if o in set(ours["optimizer"])]:
        a = ours[ours["optimizer"] == optimizer].set_index("seed")
        b = ref[ref["optimizer"] == optimizer].set_index("seed")
        missing = sorted(set(a.index) - set(b.index))
        if missing:
            raise ValueError(f"ablation point {point}: the record has no {optimizer} baseline pair for seed(s) "
                             f"{missing}; run those record slices first")
        seeds = sorted(a.index)
        row = {"point": point, "optimizer": optimizer, "seeds": " ".join(str(int(s)) for s in seeds),
               f"{COLUMN}_mean": float(a[COLUMN].mean()), f"{COLUMN}_sd": float(a[COLUMN].std(ddof=1)),
               f"{COLUMN}_record_mean": float(b.loc[seeds, COLUMN].mean()),
               "agreement_mean": float(a["agreement"].mean()),
               "agreement_record_mean": float(b.loc[seeds, "agreement"].mean())}
        row.update(ratio_interval(a.loc[seeds, COLUMN] / b.loc[seeds, COLUMN]))
        row["reading"] = reading(row)
        rows.append(row)
    return rows


def ablation_table(points: dict, record_pairs: pd.DataFrame) -> pd.DataFrame:
    """The table of ``points`` = {name: pairs DataFrame}, in the given order, against the record's pairs."""
    rows = [r for name, pairs in points.items() for r in ablation_rows(name, pairs, record_pairs)]
    return pd.DataFrame(rows, columns=COLUMNS)


def main(argv=None) -> int:
    from .search import run_main

    ap = argparse.ArgumentParser(prog="python -m stelab.qat.ablation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", help="finished ablation point folders (runs/search/<point>)")
    ap.add_argument("--record", default=None,
                    help="the paper-scale record to compare with (default: docs/reproduction/mnist/record, "
                         "relative to the repository root)")
    ap.add_argument("--out", required=True, help="ablation table (.csv or .tsv)")
    return run_main(ap, argv, _ablation)


def _ablation(args) -> int:
    from ..io import write_table
    from .record import load_record, record_folder
    from .search import load_point

    points = {Path(f).name: load_point(f, POINT_COLUMNS)[1] for f in args.folders}
    table = ablation_table(points, load_record(record_folder(args.record))["pairs"])
    write_table(args.out, table)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
