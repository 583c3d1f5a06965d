"""Paper A's claims A and B (arXiv 2405.05171, §6.3, Table 3) and Table 5's differences, over seeds.

Claim A: replacing the STE-net by the Q̂-net (after the M-transform and α) moves the weights about
as much as a 1 % learning-rate change, so Ē(baseline)/Ē(lr-tweak) is close to 1. Claim B: without
the M-transform the two nets drift apart, so Ē(unadjusted)/Ē(baseline) is large. Adam needs no M
(Theorem 5.1's Adam case), so claim B is not applicable to it.

Each claim is a ratio of two Ē of the same seed. Over n seeds the ratio is summarised by its
geometric mean exp(mean log r) and a 95 % Student-t interval of mean log r,
exp(mean ± t₀.₉₇₅,ₙ₋₁ · sd/√n). The verdict rule, written beside every row (:data:`RULES`):

* A holds when the whole interval lies in [1/2, 2] ("comparable"); fails when it lies wholly
  outside; undecided otherwise.
* B holds when the interval's lower end is ≥ 2 ("much larger"); fails when its upper end is < 2.
* With one seed there is no interval: the verdict is "1 seed" and the ratio is shown alone.

The ratios do not depend on the Ē normalisation as long as both Ē use the same one; ``E_bar``
is used. Table 5's Q̂ − STE differences get the same t-interval on the plain (not log) scale.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..optimizers import OPTIMIZERS
from .metrics import FINAL_METRICS

#: the bound of "comparable" (claim A) and "much larger" (claim B)
COMPARABLE = 2.0
MUCH_LARGER = 2.0
#: claim → (numerator pair, denominator pair)
CLAIM_PAIRS = {"A": ("baseline", "lrtweak"), "B": ("unadjusted", "baseline")}
#: claim → the rule its verdict follows, as the tables print it
RULES = {"A": f"holds if the 95 % interval of Ē(baseline)/Ē(lr-tweak) lies within [1/{COMPARABLE:g}, {COMPARABLE:g}]",
         "B": f"holds if the 95 % interval of Ē(unadjusted)/Ē(baseline) lies above {MUCH_LARGER:g}"}
NOT_APPLICABLE_B = "not applicable (Adam needs no M)"


def t_interval(values, level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of the Student-t interval of the mean of ``values`` (NaN bounds for n < 2)."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * float(x.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def ratio_interval(ratios) -> dict:
    """Geometric mean and 95 % t-interval of positive ``ratios`` (on the log scale), and n."""
    r = np.asarray(ratios, dtype=float)
    if (r <= 0).any():
        raise ValueError(f"ratios must be positive to take logs, got {r.tolist()}")
    mean, lo, hi, n = t_interval(np.log(r))
    return {"ratio": math.exp(mean) if n else math.nan, "ratio_lo": math.exp(lo) if n > 1 else math.nan,
            "ratio_hi": math.exp(hi) if n > 1 else math.nan, "n_seeds": n}


def verdict(claim: str, row: dict) -> str:
    """"holds" / "fails" / "undecided" / "1 seed" for a claim's ratio row (rules: :data:`RULES`)."""
    if row["n_seeds"] == 0:
        return "not run"
    if row["n_seeds"] < 2:
        return "1 seed"
    lo, hi = row["ratio_lo"], row["ratio_hi"]
    if claim == "A":
        if 1 / COMPARABLE <= lo and hi <= COMPARABLE:
            return "holds"
        return "fails" if hi < 1 / COMPARABLE or lo > COMPARABLE else "undecided"
    if lo >= MUCH_LARGER:
        return "holds"
    return "fails" if hi < MUCH_LARGER else "undecided"


def _seed_ratios(pairs: pd.DataFrame, top: str, bottom: str) -> pd.Series:
    """Ē(top)/Ē(bottom) per seed, for the seeds where both pairs ran and neither diverged."""
    ok = pairs[~pairs["diverged"].astype(bool)]
    e = ok.pivot_table(index="seed", columns="pair", values="E_bar", aggfunc="first")
    if top not in e or bottom not in e:
        return pd.Series(dtype=float)
    return (e[top] / e[bottom]).dropna()


def claims_over_seeds(pairs: pd.DataFrame) -> pd.DataFrame:
    """One row per (bits, optimizer, claim): geometric-mean ratio, 95 % interval, n seeds, verdict, rule.

    ``pairs``: the rows of :func:`stelab.qat.compare.compare_runs` (the main runs, factor 1, are used).
    """
    main = pairs[pairs["sweep_factor"] == 1.0]
    rows = []
    order = {o: i for i, o in enumerate(OPTIMIZERS)}
    keys = sorted({(int(b), o) for b, o in zip(main["bits"], main["optimizer"])}, key=lambda k: (k[0], order[k[1]]))
    for bits, optimizer in keys:
        g = main[(main["bits"] == bits) & (main["optimizer"] == optimizer)]
        for claim, (top, bottom) in CLAIM_PAIRS.items():
            row = {"bits": bits, "optimizer": optimizer, "claim": claim, "rule": RULES[claim]}
            if claim == "B" and optimizer == "adam":
                row.update(ratio=math.nan, ratio_lo=math.nan, ratio_hi=math.nan, n_seeds=0,
                           verdict=NOT_APPLICABLE_B)
            else:
                row.update(ratio_interval(_seed_ratios(g, top, bottom)))
                row["verdict"] = verdict(claim, row)
            rows.append(row)
    return pd.DataFrame(rows, columns=["bits", "optimizer", "claim", "ratio", "ratio_lo", "ratio_hi", "n_seeds",
                                       "verdict", "rule"])


def table5_differences(pairs: pd.DataFrame) -> pd.DataFrame:
    """Q̂-net − STE-net of Table 5's metrics (accuracies in points) per (bits, optimizer): mean and 95 %
    t-interval over the seeds of the baseline pair that did not diverge."""
    main = pairs[(pairs["sweep_factor"] == 1.0) & (pairs["pair"] == "baseline") & ~pairs["diverged"].astype(bool)]
    rows = []
    for (bits, optimizer), g in main.groupby(["bits", "optimizer"], sort=True):
        row = {"bits": int(bits), "optimizer": optimizer}
        for k in FINAL_METRICS:
            mean, lo, hi, n = t_interval(g[f"diff_{k}"])
            row.update({f"{k}_diff": mean, f"{k}_diff_lo": lo, f"{k}_diff_hi": hi})
        row["n_seeds"] = len(g)
        rows.append(row)
    return pd.DataFrame(rows)


def claims(t4: pd.DataFrame, comparable: float = COMPARABLE, much_larger: float = MUCH_LARGER) -> pd.DataFrame:
    """Point estimates of the claims per optimizer from Table 4's means (the paper's printed numbers have no
    seeds; with seeds use :func:`claims_over_seeds`) (mean Ē over the seeds that did not diverge;
    ``n_diverged``, when Table 4 has it, counts the pair runs left out).

    A: Ē(baseline) is comparable to Ē(lr-tweak), i.e. their ratio lies in [1/comparable, comparable].
    B: Ē(unadjusted) ≥ much_larger × Ē(baseline) (SGD only; Adam has no unadjusted pair in the paper).
    """
    rows = []
    for (bits, optimizer), g in t4.groupby(["bits", "optimizer"], sort=False):
        e = dict(zip(g["pair"], g["E_bar_mean"]))
        row = {"bits": bits, "optimizer": optimizer}
        if "n_diverged" in g.columns:
            row["n_diverged"] = int(g["n_diverged"].sum())
        if "baseline" in e and "lrtweak" in e:
            r = e["baseline"] / e["lrtweak"]
            row.update(ratio_baseline_to_lrtweak=r, claim_A=bool(1 / comparable <= r <= comparable))
        if "baseline" in e and "unadjusted" in e:
            r = e["unadjusted"] / e["baseline"]
            row.update(ratio_unadjusted_to_baseline=r, claim_B=bool(r >= much_larger))
        rows.append(row)
    return pd.DataFrame(rows)
