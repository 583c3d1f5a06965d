"""Figures of the theory report (paper B, arXiv 2510.10693, and this workflow's extensions); each function
reads result tables/arrays and returns a Figure.

Figures are pyplot-managed so that the notebooks' inline backend draws them at the end of a cell.

ε is plotted as stored (the full noise-free MSE unless ``theory.model.error: half``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

THEORY_STYLE = {"pde": ("C3", "-"), "linear_ode": ("C2", "--"), "closure": ("C1", ":"),
                "transport": ("C4", "-."), "particles": ("C5", "--")}


def _grid(n: int, ncols: int = 4, size=(3.6, 2.9)):
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig = plt.figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


def plot_densities(sim: dict, theory: dict, teacher_value: float = 1.0, bins: int = 80, xlim=(-3.5, 3.5)) -> Figure:
    """μ_τ(ŵ | w*) at every snapshot: simulation histogram vs PDE curve (the layout of paper B's
    density figure); the last panel also shows the stationary density μ* when the theory file
    holds it (:mod:`stelab.theory.fixed_points`)."""
    taus = np.asarray(sim["snapshot_taus"])
    fig, axes = _grid(len(taus))
    faces = np.asarray(theory["pde_faces"])
    x = 0.5 * (faces[1:] + faces[:-1])
    k = int(np.argmin(np.abs(np.asarray(theory["pde_teacher_values"]) - teacher_value)))
    th_taus = np.asarray(theory["pde_snapshot_taus"])
    for i, (ax, t) in enumerate(zip(axes, taus)):
        w = np.asarray(sim[f"snapshot_{i}"])
        sel = w[np.isclose(np.asarray(sim["w_star"]), teacher_value)]
        ax.hist(sel, bins=bins, range=xlim, density=True, color="0.7", label=f"simulation d={int(sim['d'])}")
        j = int(np.argmin(np.abs(th_taus - t)))
        ax.plot(x, np.asarray(theory[f"pde_snapshot_{j}"])[k], color="C3", lw=1.2, label="PDE")
        if "particles_snapshot_taus" in theory:
            pj = int(np.argmin(np.abs(np.asarray(theory["particles_snapshot_taus"]) - t)))
            ax.hist(np.asarray(theory[f"particles_snapshot_{pj}"]), bins=bins, range=xlim, density=True,
                    histtype="step", color="C0", lw=0.8, label="particles")
        ax.set_xlim(*xlim)
        ax.set_title(f"τ = {t:g}")
        ax.set_xlabel("ŵ")
    if "pde_stationary" in theory and np.all(np.isfinite(np.asarray(theory["pde_stationary"])[k])):
        last = axes[len(taus) - 1]
        last.plot(x, np.asarray(theory["pde_stationary"])[k], "k--", lw=0.8, label="stationary μ* (τ → ∞)")
        last.legend(fontsize=7)
    axes[0].set_ylabel(f"μ_τ(ŵ | w* = {teacher_value:g})")
    axes[0].legend(fontsize=7)
    return fig


def plot_error_curves(curves: pd.DataFrame, logx: bool = True, time_col: str = "tau") -> Figure:
    """ε(τ) per case: simulation mean with min–max band over seeds, and every limit curve."""
    cases = list(dict.fromkeys(curves["case"]))
    fig, axes = _grid(len(cases), ncols=4)
    for ax, case in zip(axes, cases):
        c = curves[curves["case"] == case]
        pick = lambda s: c[c["source"] == s].sort_values(time_col)  # noqa: E731
        mean, lo, hi = pick("sim_mean"), pick("sim_lo"), pick("sim_hi")
        t = mean[time_col].to_numpy()
        ok = t > 0 if logx else np.ones_like(t, bool)
        ax.fill_between(t[ok], lo["eps"].to_numpy()[ok], hi["eps"].to_numpy()[ok], color="0.8", label="sim band")
        ax.plot(t[ok], mean["eps"].to_numpy()[ok], color="k", lw=1.0, label="sim mean")
        for src in THEORY_STYLE:
            s = pick(src)
            if len(s):
                tt = s[time_col].to_numpy()
                ok2 = tt > 0 if logx else np.ones_like(tt, bool)
                col, ls = THEORY_STYLE[src]
                ax.plot(tt[ok2], s["eps"].to_numpy()[ok2], color=col, ls=ls, lw=1.2, label=src)
        if logx:
            ax.set_xscale("log")
        ax.set_title(case)
        ax.set_xlabel("t = ητ" if time_col == "t" else "τ")
    axes[0].set_ylabel("ε")
    axes[0].legend(fontsize=7)
    return fig


def plot_plateau(table: pd.DataFrame) -> Figure:
    """Plateau length vs ω: measured on the simulation and the PDE, and the τ_p formula.

    Cases whose target sits in the lower half of its bin (p_target < ½) end the plateau with a
    rise of ε instead of a drop (:mod:`stelab.theory.plateau`); they are labelled "rise".
    """
    fig = plt.figure(figsize=(4.5, 3.4), layout="constrained")
    ax = fig.subplots()
    t = table.sort_values("omega")
    ax.plot(t["omega"], t["tau_p_formula"], "k--", label="formula (θ − ŵ₀)/v")
    ax.plot(t["omega"], t["tau_p_sim"], "o", color="0.4", label="simulation")
    if "tau_p_pde" in t:
        ax.plot(t["omega"], t["tau_p_pde"], "x", color="C3", ms=8, label="PDE")
    if "p_target" in t:
        for om, tp, p in zip(t["omega"], t["tau_p_formula"], t["p_target"]):
            ax.annotate("drop" if p > 0.5 else "rise", (om, tp), textcoords="offset points", xytext=(0, 8),
                        ha="center", fontsize=7)
        ax.margins(x=0.08, y=0.12)
    ax.set_xlabel("ω (weight range)")
    ax.set_ylabel("plateau length τ_p")
    ax.legend(fontsize=8)
    return fig


def plot_fixed_points(table: pd.DataFrame) -> Figure:
    """ε* vs ω per bit width (small-noise form dashed), and ε* vs η with ε*_0 (paper B's fixed-point
    analysis and deviation from the unquantized model; formulas in :mod:`stelab.theory.fixed_points`)."""
    fig = plt.figure(figsize=(9, 3.4), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    bo = table[table["sweep"] == "bits_omega"]
    for i, (b, g) in enumerate(bo.groupby("bits")):
        g = g.sort_values("omega")
        ax1.plot(g["omega"], g["eps_star"], "o-", color=f"C{i}", label=f"b = {b}")
        if "small_noise" in g:
            ax1.plot(g["omega"], g["small_noise"], "--", color=f"C{i}", lw=0.8)
    ax1.set_xlabel("ω")
    ax1.set_ylabel("ε*")
    ax1.set_yscale("log")
    ax1.legend(fontsize=8, title="dashed: small-noise", title_fontsize=7)
    et = table[table["sweep"] == "eta"].sort_values("eta")
    if len(et):
        ax2.plot(et["eta"], et["eps_star"], "o-", color="C3", label="quantized ε*")
        ax2.plot(et["eta"], et["eps_star_0"], "k--", label="unquantized ησ²/(2 − η)")
        ax2.plot(et["eta"], et["deviation"], ":", color="C0", label="deviation ε* − ε*_0")
        ax2.set_xscale("log")
        ax2.set_xlabel("η")
        ax2.legend(fontsize=8)
    return fig


def plot_stability(table: pd.DataFrame) -> Figure:
    """ε after τ_max vs η: quantized stays bounded, unquantized diverges once ηc ≥ 2 (paper B's
    stability analysis; the threshold ηc < 2 is this workflow's derivation, :mod:`stelab.theory.fixed_points`)."""
    fig = plt.figure(figsize=(4.8, 3.4), layout="constrained")
    ax = fig.subplots()
    for i, (label, g) in enumerate(table.groupby("model")):
        g = g.sort_values("eta")
        ax.plot(g["eta"], g["sim_eps_mean"], "o", color=f"C{i}", label=f"{label}: simulation")
        ax.plot(g["eta"], g["theory_eps"], "-", color=f"C{i}", label=f"{label}: {g['theory'].iloc[0]}")
    ax.axvline(2.0, color="0.5", lw=0.6, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("η")
    ax.set_ylabel("ε(τ_max)")
    ax.legend(fontsize=7)
    return fig


def plot_bridge(curves: pd.DataFrame, table: pd.DataFrame) -> Figure:
    """Q̂-net vs STE-net ε curves per η on t = ητ (simulation and PDE), and the gap vs η."""
    etas = sorted(table["eta"], reverse=True)
    fig, axes = _grid(len(etas) + 1, ncols=4)
    for ax, eta in zip(axes, etas):
        for net, col in (("qhat", "C0"), ("ste", "C3")):
            c = curves[curves["case"] == f"{net}_eta{eta:g}"]
            for src, ls in (("sim_mean", "-"), ("pde", "--")):
                s = c[c["source"] == src].sort_values("t")
                if len(s):
                    ax.plot(s["t"], s["eps"], color=col, ls=ls, lw=1.0, label=f"{net} {src}")
        ax.set_title(f"η = {eta:g}")
        ax.set_xlabel("t = ητ")
    axes[0].set_ylabel("ε")
    axes[0].legend(fontsize=6)
    ax = axes[len(etas)]
    t = table.sort_values("eta")
    for col, lab, mk in (("sim_max_gap", "sim max gap", "o-"), ("pde_max_gap", "PDE max gap", "s-"),
                         ("pde_final_ks", "PDE final KS", "^-")):
        if col in t:
            ax.plot(t["eta"], t[col], mk, label=lab)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("η")
    ax.set_title("Q̂-net vs STE-net")
    ax.legend(fontsize=7)
    return fig
