"""Plateau analysis (spec B §5).

Inside a bin Q is constant, so from a concentrated start the latent weights drift at the
constant speed v = η(a w* − c L_j) while ε stays flat; when the bulk crosses the next
threshold θ the error jumps. Predicted plateau length::

    τ_p = (θ − ŵ₀) / v,   ŵ₀ = the initial mean, j its bin (closed on the left), θ the
                          threshold of bin j in the direction of v.

Measured plateau length (:func:`measure_plateau`): the first time ε(τ) crosses the midpoint
between the plateau level ε(0) and the final level ε(τ_end) (linear interpolation between
grid points). The definition covers drops (target in the upper half of its bin, p > ½) and
rises (p < ½) alike.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .model import Model


def measure_plateau(tau, eps) -> float:
    """First τ at which ε crosses ½(ε(0) + ε(τ_end)); nan if it never does."""
    tau, eps = np.asarray(tau, dtype=np.float64), np.asarray(eps, dtype=np.float64)
    mid = 0.5 * (eps[0] + eps[-1])
    side = np.sign(eps - mid)
    start = side[0]
    if start == 0:
        return float(tau[0])
    idx = np.nonzero(side != start)[0]
    if len(idx) == 0:
        return math.nan
    i = idx[0]
    e0, e1 = eps[i - 1] - mid, eps[i] - mid
    return float(tau[i - 1] + (tau[i] - tau[i - 1]) * e0 / (e0 - e1)) if e0 != e1 else float(tau[i])


def predicted_plateau(model: Model, w_star: float | None = None, eta: float | None = None) -> dict:
    """τ_p = (θ − ŵ₀)/v for the bin of the initial mean (spec B §5); nan when the drift points
    away from every finite threshold (the start bin already holds the attracting threshold)."""
    if not model.g.is_step:
        raise ValueError("theory: the plateau formula needs a quantizer weight map")
    eta = model.eta if eta is None else float(eta)
    w = float(model.teacher.values[0]) if w_star is None else float(w_star)
    w0 = model.init.mean
    th, lv = model.g.thresholds, model.g.levels
    j = int(np.searchsorted(th, w0, side="right"))
    v = eta * (model.a * w - model.c * lv[j])
    if v > 0 and j < len(th):
        theta = th[j]
    elif v < 0 and j > 0:
        theta = th[j - 1]
    else:
        return {"tau_p": math.nan, "speed": v, "threshold": math.nan, "bin_level": lv[j]}
    return {"tau_p": float((theta - w0) / v), "speed": float(v), "threshold": float(theta), "bin_level": float(lv[j])}


def target_position(model: Model, w_star: float | None = None) -> float:
    """p with a w*/c = L_k + pΔ: the error drops after the plateau iff p > ½ (spec B §5)."""
    w = float(model.teacher.values[0]) if w_star is None else float(w_star)
    lv = model.g.levels
    t = model.a * w / model.c
    k = int(np.clip(np.searchsorted(lv, t, side="right") - 1, 0, len(lv) - 2))
    return float((t - lv[k]) / (lv[k + 1] - lv[k]))


def plateau_rows(cases: dict, sims: dict, ths: dict) -> pd.DataFrame:
    """Plateau length per case: measured on the simulation mean and on the PDE, and τ_p."""
    rows = []
    for name, case in cases.items():
        model = Model.from_spec(case["model"])
        sim, th = sims[name], ths[name]
        pred = predicted_plateau(model)
        row = {"case": name, "omega": model.g.quantizer.m, "a": model.a, "c": model.c,
               "p_target": target_position(model), "tau_p_formula": pred["tau_p"], "speed": pred["speed"],
               "tau_p_sim": measure_plateau(sim["tau"], np.asarray(sim["eps"]).mean(axis=0))}
        if "pde_eps" in th:
            row["tau_p_pde"] = measure_plateau(th["pde_tau"], th["pde_eps"])
        rows.append(row)
    return pd.DataFrame(rows)
