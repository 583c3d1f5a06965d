"""Tables 3–5 and the learning-rate sweep from per-seed comparison rows (paper A, arXiv 2405.05171, §6.3).

Ē is given in the three normalisations of :mod:`stelab.qat.metrics`: ``E_bar`` = mean |Δw|/(2m)
(% of the range, the paper's text), ``E_bar_m`` = mean |Δw|/m (the per-weight normaliser of the
authors' code) and ``E_bar_path`` (% of the distance travelled, the authors' code). Table 4 compares
with the paper in :data:`stelab.qat.paper_values.COMPARED_AS` (column :data:`~stelab.qat.paper_values.OVER_PAPER`). Mean ± sd
over seeds with the paper's MNIST numbers (:mod:`stelab.qat.paper_values`) in
adjacent columns; rows in the order of :data:`stelab.optimizers.OPTIMIZERS` and
:data:`stelab.qat.settings.PAIRS`. The sweep fits log Ē against log η: the per-step growth of
E⁽ᵗ⁾ in Theorem 5.1 (eq. 6) is a gradient-error term ∝ η plus a convexity term ∝ η².
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import paper_values as pv
from .metrics import FINAL_METRICS, loglog_slope
from ..optimizers import OPTIMIZERS
from .settings import PAIR_NAMES, PAIRS


def _mean_sd(df: pd.DataFrame, by, cols) -> pd.DataFrame:
    """Mean, sd and count (``n_seeds``) of ``cols`` per group over the runs that did not diverge;
    ``n_diverged`` counts the rows left out (runs kept by qat.on_divergence: keep)."""
    diverged = df["diverged"].astype(bool)
    g = df.assign(**{c: df[c].where(~diverged) for c in cols}).groupby(list(by), sort=False)[list(cols)]
    mean, sd, n = g.mean(), g.std(ddof=1), g.count()
    n_div = diverged.groupby([df[b] for b in by], sort=False).sum().astype(int).rename("n_diverged")
    out = mean.add_suffix("_mean").join(sd.add_suffix("_sd")).join(n[[cols[0]]].rename(columns={cols[0]: "n_seeds"}))
    return out.join(n_div).reset_index()


def _left_out(n_diverged: int) -> str:
    """The note a row carries when diverged runs were left out of its means."""
    return f" [{n_diverged} diverged, left out]" if n_diverged else ""


E_BARS = ("E_bar", "E_bar_m", "E_bar_path")


def _with_path(pairs: pd.DataFrame) -> pd.DataFrame:
    """``pairs`` with every Ē column: ``E_bar_m`` = 2·``E_bar`` (exact: both divide by the same half-range; rows
    compared before it existed), ``E_bar_path`` NaN where it was not measured."""
    if "E_bar_m" not in pairs:
        pairs = pairs.assign(E_bar_m=2.0 * pairs["E_bar"])
    return pairs if "E_bar_path" in pairs else pairs.assign(E_bar_path=np.nan)


_OPT_ORDER = {name: i for i, name in enumerate(OPTIMIZERS)}
_PAIR_ORDER = {name: i for i, name in enumerate(PAIRS)}


def _paper(table: dict, bits, optimizer, key, field):
    """The paper's number for a row (its MNIST tables are 2-bit), NaN otherwise."""
    return table.get((optimizer, key), {}).get(field, np.nan) if int(bits) == pv.PAPER_BITS else np.nan


def table4(pairs: pd.DataFrame) -> pd.DataFrame:
    """Table 4: Ē (three normalisations) and quantized agreement per (bits, optimizer, pair), mean and sd over
    seeds, paper beside; :data:`pv.OVER_PAPER`: our Ē in the normalisation :data:`pv.COMPARED_AS` over the paper's."""
    main = _with_path(pairs[pairs["sweep_factor"] == 1.0])
    t = _mean_sd(main, ("bits", "optimizer", "pair"), (*E_BARS, "agreement"))
    several = t["bits"].nunique() > 1
    t["experiment"] = [f"{PAIR_NAMES.get(p, p)} ({pv.OPTIMIZER_LABEL.get(o, o)})" + (f", {b} bit" if several else "") + _left_out(n)
                       for b, o, p, n in zip(t["bits"], t["optimizer"], t["pair"], t["n_diverged"])]
    t["E_bar_paper"] = [_paper(pv.TABLE4_MNIST, b, o, p, "E_bar") for b, o, p in zip(t["bits"], t["optimizer"], t["pair"])]
    t["agreement_paper"] = [_paper(pv.TABLE4_MNIST, b, o, p, "agreement")
                            for b, o, p in zip(t["bits"], t["optimizer"], t["pair"])]
    t[pv.OVER_PAPER] = t[f"{pv.COMPARED_AS}_mean"] / t["E_bar_paper"]
    t = t.sort_values(["bits", "optimizer", "pair"], key=lambda c: c.map(_PAIR_ORDER) if c.name == "pair" else (
        c.map(_OPT_ORDER) if c.name == "optimizer" else c))
    return t[["experiment", "bits", "optimizer", "pair", "E_bar_mean", "E_bar_sd", "E_bar_m_mean", "E_bar_m_sd",
              "E_bar_path_mean", "E_bar_path_sd", "E_bar_paper", pv.OVER_PAPER, "agreement_mean",
              "agreement_sd", "agreement_paper", "n_seeds", "n_diverged"]].reset_index(drop=True)


def table3(pairs: pd.DataFrame, optimizer: str = "momentum") -> pd.DataFrame:
    """Table 3: Ē of the SGD + momentum pairs with description, interpretation and ratio to baseline (per bits)."""
    t = table4(pairs)
    t = t[t["optimizer"] == optimizer].copy()
    base = t[t["pair"] == "baseline"].set_index("bits")["E_bar_mean"]
    t["ratio_to_baseline"] = [e / base[b] if b in base.index else np.nan for b, e in zip(t["bits"], t["E_bar_mean"])]
    t["description"] = [pv.TABLE3_TEXT[p][0] for p in t["pair"]]
    t["interpretation"] = [pv.TABLE3_TEXT[p][1] for p in t["pair"]]
    return t[["bits", "pair", "description", "E_bar_mean", "E_bar_sd", "E_bar_m_mean", "E_bar_m_sd",
              "E_bar_path_mean", "E_bar_path_sd", "E_bar_paper", pv.OVER_PAPER, "ratio_to_baseline",
              "interpretation", "n_seeds", "n_diverged"]].reset_index(drop=True)


def table5(runs: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Table 5: final train/val accuracy (%) and loss of STE-net and Q̂-net, and their difference (Q̂ − STE),
    over the runs (pairs) that did not diverge; ``n_diverged`` counts those left out."""
    rows = []
    main_runs = runs[runs["sweep_factor"] == 1.0]
    main_pairs = pairs[(pairs["sweep_factor"] == 1.0) & (pairs["pair"] == "baseline")]
    several = main_runs["bits"].nunique() > 1
    for bits in sorted(set(main_runs["bits"])):
        for optimizer in [o for o in OPTIMIZERS if o in set(main_runs["optimizer"])]:
            label = pv.OPTIMIZER_LABEL.get(optimizer, optimizer) + (f", {bits} bit" if several else "")
            r = main_runs[(main_runs["optimizer"] == optimizer) & (main_runs["bits"] == bits)]
            sources = [("ste", f"STE ({label})", r[r["variant"] == "ste"], ""),
                       ("qhat", f"Q̂ ({label})", r[r["variant"] == "qhat"], ""),
                       ("diff", f"Diff ({label})",
                        main_pairs[(main_pairs["optimizer"] == optimizer) & (main_pairs["bits"] == bits)], "diff_")]
            for net, name, df, prefix in sources:
                if df.empty:
                    continue
                n_div = int(df["diverged"].astype(bool).sum())
                df = df[~df["diverged"].astype(bool)]
                row = {"row": name + _left_out(n_div), "bits": int(bits), "optimizer": optimizer, "net": net,
                       "n_seeds": len(df), "n_diverged": n_div}
                for k in FINAL_METRICS:
                    vals = df[prefix + k].astype(float)
                    row[f"{k}_mean"] = vals.mean()
                    row[f"{k}_sd"] = vals.std(ddof=1) if len(vals) > 1 else np.nan
                    row[f"{k}_paper"] = _paper(pv.TABLE5_MNIST, bits, optimizer, net, k)
                rows.append(row)
    return pd.DataFrame(rows)


def lr_sweep(pairs: pd.DataFrame, pair: str = "baseline") -> tuple[pd.DataFrame, dict]:
    """Ē of ``pair`` against η (mean ± sd over seeds per factor) and the log-log slope.

    Only (bits, optimizer) combinations run at two or more learning-rate factors enter the sweep;
    ``fits`` is keyed by optimizer (suffixed by the bit width when several were swept).
    """
    df = _with_path(pairs[pairs["pair"] == pair])
    swept = df.groupby(["bits", "optimizer"])["sweep_factor"].nunique()
    keep = set(swept[swept >= 2].index)
    df = df[[(b, o) in keep for b, o in zip(df["bits"], df["optimizer"])]]
    t = _mean_sd(df, ("bits", "optimizer", "sweep_factor"), (*E_BARS, "agreement"))
    t = t.sort_values(["bits", "optimizer", "sweep_factor"]).reset_index(drop=True)
    several = t["bits"].nunique() > 1
    fits = {}
    for (bits, optimizer), g in t.groupby(["bits", "optimizer"]):
        if (g["E_bar_mean"] > 0).all():
            slope, intercept = loglog_slope(g["sweep_factor"], g["E_bar_mean"])
            fits[f"{optimizer}, {bits} bit" if several else optimizer] = {
                "slope": slope, "intercept": intercept, "n_factors": len(g), "bits": int(bits)}
    return t, fits
