"""Verdicts on the gaps between the finite-d simulation and the d → ∞ limits (paper B, arXiv 2510.10693).

Each gap is judged against the scale of the simulation's own noise, with the rule printed beside it:

* ε curves (``quantity`` ``eps``): the largest max |Δε| over an experiment's cases against the seed
  standard error s of that case's simulated ε (time-averaged, :func:`stelab.theory.comparison.gap_rows`).
  "agrees" when max |Δε| ≤ :data:`NOISE_FACTOR` · s, "differs" otherwise, and "no scale (1 seed)"
  when the case ran one seed (no spread to judge by).
* weight densities: the Kolmogorov–Smirnov distance against the 95 % critical value 1.36/√n of the
  one-sample KS test, n = d × seeds simulated weights: "consistent" below it, "differs" above.
"""

from __future__ import annotations

import math

import pandas as pd

#: a gap counts as within noise up to this many seed standard errors
NOISE_FACTOR = 3.0
#: the 95 % critical value of the one-sample Kolmogorov–Smirnov statistic is KS_C95 / √n (large n)
KS_C95 = 1.36
GAP_COLUMNS = ("experiment", "case", "theory", "quantity", "max_abs_diff", "mean_abs_diff", "seed_sem", "ks",
               "d", "seeds")
EPS_RULE = f"agrees if max |Δε| ≤ {NOISE_FACTOR:g} × the seed s.e. of the simulated ε"
KS_RULE = f"consistent if KS ≤ {KS_C95:g}/√n, n = d × seeds simulated weights (95 % KS test)"
#: readable names of the limit equations (the figures' legend names)
LIMIT_NAMES = {"pde": "PDE", "linear_ode": "closed ODE", "closure": "Gaussian closure",
               "transport": "small-η transport", "particles": "particles", "stationary": "stationary μ*"}


def eps_verdict(max_abs_diff, seed_sem) -> str:
    """The verdict on an ε gap (rule :data:`EPS_RULE`)."""
    if max_abs_diff is None or pd.isna(max_abs_diff):
        return "not run"
    if seed_sem is None or pd.isna(seed_sem) or seed_sem <= 0:
        return "no scale (1 seed)"
    return "agrees" if max_abs_diff <= NOISE_FACTOR * seed_sem else "differs"


def ks_critical(d, seeds) -> float:
    """1.36/√n with n = d × seeds."""
    n = float(d) * float(seeds)
    return KS_C95 / math.sqrt(n) if n > 0 else math.nan


def ks_verdict(ks, critical) -> str:
    """The verdict on a KS distance (rule :data:`KS_RULE`)."""
    if ks is None or pd.isna(ks) or pd.isna(critical):
        return "not run"
    return "consistent" if ks <= critical else "differs"


def read_gaps(paths) -> pd.DataFrame:
    """The gap tables (``gaps.tsv`` of each experiment) as one table; a missing file or column names itself."""
    frames = []
    for p in paths:
        df = pd.read_csv(p, sep="\t")
        missing = [c for c in GAP_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"{p}: missing column(s) {', '.join(missing)}")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def eps_gaps(gaps: pd.DataFrame) -> pd.DataFrame:
    """Every ε gap row with its scale (max |Δε| / s) and verdict."""
    e = gaps[gaps["quantity"] == "eps"].copy()
    e["limit"] = e["theory"].map(lambda t: LIMIT_NAMES.get(t, t))
    e["noise_ratio"] = e["max_abs_diff"] / e["seed_sem"]
    e["verdict"] = [eps_verdict(m, s) for m, s in zip(e["max_abs_diff"], e["seed_sem"])]
    return e.reset_index(drop=True)


def density_gaps(gaps: pd.DataFrame) -> pd.DataFrame:
    """Every density row with its KS critical value and verdict."""
    k = gaps[gaps["quantity"] != "eps"].copy()
    k["limit"] = k["theory"].map(lambda t: LIMIT_NAMES.get(t, t))
    k["ks_critical"] = [ks_critical(d, s) for d, s in zip(k["d"], k["seeds"])]
    k["verdict"] = [ks_verdict(v, c) for v, c in zip(k["ks"], k["ks_critical"])]
    return k.reset_index(drop=True)


def gap_summary(gaps: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, limit): cases, the worst case's max |Δε|, its seed s.e., the ratio and
    verdict, the mean |Δε| over cases, the largest KS distance with its critical value and verdict."""
    eps, dens = eps_gaps(gaps), density_gaps(gaps)
    rows = []
    for (exp, limit), g in gaps.groupby(["experiment", "theory"], sort=False):
        ge = eps[(eps["experiment"] == exp) & (eps["theory"] == limit) & eps["max_abs_diff"].notna()]
        gk = dens[(dens["experiment"] == exp) & (dens["theory"] == limit) & dens["ks"].notna()]
        worst = ge.loc[ge["max_abs_diff"].idxmax()] if len(ge) else None
        wk = gk.loc[gk["ks"].idxmax()] if len(gk) else None
        rows.append({
            "experiment": exp, "theory": limit, "limit": LIMIT_NAMES.get(limit, limit),
            "cases": int(ge["case"].nunique()),
            "max_abs_diff": math.nan if worst is None else float(worst["max_abs_diff"]),
            "worst_case": "" if worst is None else str(worst["case"]),
            "seed_sem": math.nan if worst is None else float(worst["seed_sem"]),
            "noise_ratio": math.nan if worst is None else float(worst["noise_ratio"]),
            "mean_abs_diff": float(ge["mean_abs_diff"].mean()) if len(ge) else math.nan,
            "eps_verdict": "" if worst is None else worst["verdict"],
            "ks": math.nan if wk is None else float(wk["ks"]),
            "ks_critical": math.nan if wk is None else float(wk["ks_critical"]),
            "ks_verdict": "" if wk is None else wk["verdict"],
        })
    return pd.DataFrame(rows, columns=["experiment", "theory", "limit", "cases", "max_abs_diff", "worst_case",
                                       "seed_sem", "noise_ratio", "mean_abs_diff", "eps_verdict", "ks",
                                       "ks_critical", "ks_verdict"])
