"""Plateau analysis: paper B's (arXiv 2510.10693) plateau followed by a sharp drop of ε.

Paper B finds that STE training shows a plateau of the generalisation error followed by a
sharp drop, with a plateau length set by the quantization range. The mechanism and the
formula below are this workflow's own derivation (not equations of paper B): inside a bin Q
is constant, so from a concentrated start the latent weights drift at the constant speed
v = η(a w* − c L_j) while ε stays flat; when the bulk crosses the next threshold θ the error
jumps. Predicted plateau length::

    τ_p = (θ − ŵ₀) / v,   ŵ₀ = the initial mean, j its bin (closed on the left), θ the
                          threshold of bin j in the direction of v.

The jump is a drop when the target a w*/c = L_k + pΔ sits in the upper half of its bin
(p > ½) and a rise otherwise.

Measured plateau length (:func:`measure_plateau`): the first time, once ε has reached its
plateau, that ε crosses the midpoint between the plateau level and the final level ε(τ_end),
i.e. when half of the jump is done (half of the weights have crossed θ). The plateau level is
read off the curve, not taken as ε(0): a start on a threshold (e.g. the midrise layout with
ŵ₀ near 0) puts ε(0) far above the plateau, and the early transient must not count as its end.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .model import Model


def measure_plateau(tau, eps, *, band: float = 0.05) -> float:
    """Plateau length of the curve ε(τ) (module docstring); nan if ε never crosses the midpoint.

    Plateau level: with tol = ``band`` × (max ε − min ε) and T(ℓ) the time ε spends within ±tol
    of a level ℓ, the level maximising T(ℓ)·abs(ℓ − ε(τ_end)) over the levels at least 2·tol
    from ε(τ_end): the flat stretch that carries most of the excess error over the final level
    (the short early transient and the final approach carry little), taken as the time-weighted
    median of ε over that stretch. The midpoint crossing is searched from the stretch's first
    time on, with linear interpolation between grid points.
    """
    tau, eps = np.asarray(tau, dtype=np.float64), np.asarray(eps, dtype=np.float64)
    lo, hi, final = float(eps.min()), float(eps.max()), float(eps[-1])
    tol = band * (hi - lo)
    levels = np.linspace(lo, hi, 201)
    levels = levels[np.abs(levels - final) > 2.0 * tol]
    if not tol > 0 or levels.size == 0:
        return math.nan
    edges = np.concatenate([[tau[0]], 0.5 * (tau[1:] + tau[:-1]), [tau[-1]]])
    weight = np.diff(edges)  # the time each grid point stands for
    near = np.abs(eps[None, :] - levels[:, None]) <= tol
    stretch = near[int(np.argmax((near @ weight) * np.abs(levels - final)))]
    values, w = eps[stretch], weight[stretch]
    order = np.argsort(values)
    cum = np.cumsum(w[order])
    plateau = float(values[order][np.searchsorted(cum, 0.5 * cum[-1])])
    mid = 0.5 * (plateau + final)
    start = int(np.argmax(stretch))
    side = np.sign(eps[start:] - mid)
    idx = np.nonzero(side != side[0])[0]
    if len(idx) == 0:
        return math.nan
    i = start + int(idx[0])
    e0, e1 = eps[i - 1] - mid, eps[i] - mid
    return float(tau[i - 1] + (tau[i] - tau[i - 1]) * e0 / (e0 - e1))


def predicted_plateau(model: Model, w_star: float | None = None, eta: float | None = None) -> dict:
    """τ_p = (θ − ŵ₀)/v for the bin of the initial mean (module docstring); nan when the drift points
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
    """p with a w*/c = L_k + pΔ: the error drops after the plateau iff p > ½ (module docstring)."""
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
