"""Simulation vs theory for one experiment: the long table of ε curves and the gap table.

Gaps (``gap_rows``): max and mean abs(Δε) between the seed-mean simulated curve and each limit
curve on the simulation's time grid, with the seed standard error for scale; Kolmogorov–Smirnov
distances between the simulated weights and the PDE density at each snapshot time (and the
stationary density μ* at the last one). Plateau and bridge experiments add their own tables
(:func:`stelab.theory.plateau.plateau_rows`, :func:`stelab.theory.bridge.bridge_rows`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .bridge import bridge_rows
from .case_runs import time_grid
from .experiments import SOLVERS
from .plateau import plateau_rows


def ks_distance(samples: np.ndarray, faces: np.ndarray, density: np.ndarray) -> float:
    """sup_x |F_emp(x) − F_pde(x)| with F_pde piecewise linear in x between cell faces."""
    xs = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    cdf_faces = np.concatenate([[0.0], np.cumsum(density * np.diff(faces))])
    F = np.interp(xs, faces, cdf_faces)
    n = len(xs)
    upper = np.arange(1, n + 1) / n
    lower = np.arange(0, n) / n
    return float(max(np.max(np.abs(upper - F)), np.max(np.abs(F - lower))))


def theory_curves(th: dict) -> dict:
    """{solver: (tau, eps)} present in a theory NPZ."""
    return {s: (np.asarray(th[f"{s}_tau"]), np.asarray(th[f"{s}_eps"])) for s in SOLVERS if f"{s}_eps" in th}


def gap_rows(experiment: str, case: str, sim: dict, th: dict) -> list[dict]:
    """Max/mean |Δε| of the seed-mean simulation vs each theory curve on the simulation grid,
    with the seed spread (std of the mean) for scale, and KS distances of densities."""
    tau, eps = np.asarray(sim["tau"]), np.asarray(sim["eps"])
    mean = eps.mean(axis=0)
    sem = eps.std(axis=0, ddof=1).mean() / math.sqrt(eps.shape[0]) if eps.shape[0] > 1 else math.nan
    rows = []
    for solver, (t, e) in theory_curves(th).items():
        ok = tau <= t[-1] + 1e-9
        diff = np.abs(mean[ok] - np.interp(tau[ok], t, e))
        rows.append({"experiment": experiment, "case": case, "theory": solver, "quantity": "eps",
                     "tau": math.nan, "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
                     "seed_sem": float(sem), "ks": math.nan, "d": int(sim["d"]), "seeds": int(eps.shape[0])})
    for i, t in enumerate(np.asarray(sim.get("snapshot_taus", []))):
        if "pde_snapshot_taus" not in th:
            continue
        j = int(np.argmin(np.abs(np.asarray(th["pde_snapshot_taus"]) - t)))
        dens = np.asarray(th[f"pde_snapshot_{j}"])
        wv = np.asarray(th["pde_teacher_values"])
        w = np.asarray(sim[f"snapshot_{i}"])
        ws = np.asarray(sim["w_star"])
        for k, v in enumerate(wv):
            sel = w[np.isclose(ws, v)]
            if sel.size == 0:
                continue
            rows.append({"experiment": experiment, "case": case, "theory": "pde", "quantity": f"density|w*={v:g}",
                         "tau": float(t), "max_abs_diff": math.nan, "mean_abs_diff": math.nan, "seed_sem": math.nan,
                         "ks": ks_distance(sel, np.asarray(th["pde_faces"]), dens[k]), "d": int(sim["d"]),
                         "seeds": int(w.shape[0])})
    snaps = np.asarray(sim.get("snapshot_taus", []))
    if len(snaps) and "pde_stationary" in th:  # last snapshot vs the τ → ∞ density μ*
        w, ws, last = np.asarray(sim[f"snapshot_{len(snaps) - 1}"]), np.asarray(sim["w_star"]), float(snaps[-1])
        for k, v in enumerate(np.asarray(th["pde_teacher_values"])):
            sel, mu = w[np.isclose(ws, v)], np.asarray(th["pde_stationary"])[k]
            if sel.size == 0 or not np.all(np.isfinite(mu)):
                continue
            rows.append({"experiment": experiment, "case": case, "theory": "stationary",
                         "quantity": f"density|w*={v:g}", "tau": last, "max_abs_diff": math.nan,
                         "mean_abs_diff": math.nan, "seed_sem": math.nan,
                         "ks": ks_distance(sel, np.asarray(th["pde_faces"]), mu), "d": int(sim["d"]),
                         "seeds": int(w.shape[0])})
    return rows


def curve_rows(experiment: str, case: str, sim: dict, th: dict, t_scale: float = 1.0) -> list[dict]:
    """Long table of ε curves: source (sim_mean, sim_lo, sim_hi, theory solvers) × τ."""
    tau, eps = np.asarray(sim["tau"]), np.asarray(sim["eps"])
    rows = []

    def add(source, t, e):
        rows.extend({"experiment": experiment, "case": case, "source": source, "tau": float(a),
                     "t": float(a) * t_scale, "eps": float(b)} for a, b in zip(t, e))

    add("sim_mean", tau, eps.mean(axis=0))
    add("sim_lo", tau, eps.min(axis=0))
    add("sim_hi", tau, eps.max(axis=0))
    for solver, (t, e) in theory_curves(th).items():
        if solver == "pde" and len(t) > 2000:
            idx = np.unique(np.concatenate([np.searchsorted(t, time_grid(t[-1], 400)), [len(t) - 1]]))
            idx = idx[idx < len(t)]
            t, e = t[idx], e[idx]
        add(solver, t, e)
    return rows


def compare(exp: str, cases: dict, sims: dict, ths: dict):
    """(curves, gaps, extra) DataFrames for one experiment."""
    curves, gaps = [], []
    for name in cases:
        scale = float(cases[name]["model"]["eta"]) if exp == "bridge" else 1.0
        curves += curve_rows(exp, name, sims[name], ths[name], scale)
        gaps += gap_rows(exp, name, sims[name], ths[name])
    extra = None
    if exp == "plateau":
        extra = plateau_rows(cases, sims, ths)
    elif exp == "bridge":
        extra = bridge_rows(cases, sims, ths)
    return pd.DataFrame(curves), pd.DataFrame(gaps), extra
