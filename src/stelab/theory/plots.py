"""Figures of the theory report (paper B, arXiv 2510.10693, and this workflow's extensions); each function
reads result tables/arrays and returns a Figure drawn under the workflow's theme (:mod:`stelab.report.theme`).

Figures are pyplot-managed so that the notebooks' inline backend draws them at the end of a cell.

Units: the model is dimensionless (teacher weights w* of order one); time is τ = steps / d, or
t = ητ on the bridge's common clock; ε is plotted as stored (the full noise-free MSE unless
``theory.model.error: half``).
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..report.theme import NEUTRALS, color, log_axis, themed

#: colour, line style and legend label of each limit equation
THEORY_STYLE = {"pde": (color(3), "-", "PDE"), "linear_ode": (color(2), "--", "closed ODE"),
                "closure": (color(1), ":", "Gaussian closure"), "transport": (color(4), "-.", "small-η transport"),
                "particles": (color(9), "--", "particles")}
#: colour and label of the two nets of the bridge
BRIDGE_NETS = {"qhat": (color(0), r"$\hat{Q}$-net"), "ste": (color(3), "STE-net")}
EPS_LABEL = "ε (MSE, dimensionless)"
TAU_LABEL = "τ = steps / d (dimensionless)"
T_LABEL = "t = ητ (dimensionless)"
ETA_LABEL = "learning rate η (dimensionless)"
#: readable names of case-id tokens (b2_w1.5 → "b = 2, ω = 1.5"; see :func:`case_title`)
CASE_WORDS = {"main": "b = 2, ω = 2 (main case)", "weight_only": "weight-only quantization",
              "clipped": "clipped STE", "tanh": "tanh weights and inputs", "qhat": r"$\hat{Q}$-net",
              "ste": "STE-net", "both": "weights and inputs quantized"}
_CASE_TOKENS = ((re.compile(r"^b(\d+)$"), "b = {}"), (re.compile(r"^w([\d.]+)$"), "ω = {}"),
                (re.compile(r"^eta([\d.]+)$"), "η = {}"))


def case_title(case: str) -> str:
    """A case id as a subplot title: ``b2_w1.5`` → "b = 2, ω = 1.5", ``qhat_eta0.1`` → "Q̂-net, η = 0.1"."""
    if case in CASE_WORDS:
        return CASE_WORDS[case]
    words = []
    for token in str(case).split("_"):
        for pattern, text in _CASE_TOKENS:
            m = pattern.match(token)
            if m:
                words.append(text.format(m.group(1)))
                break
        else:
            words.append(CASE_WORDS.get(token, token))
    return ", ".join(words)


def _grid(n: int, ncols: int = 4, size=(3.4, 2.8)):
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig = plt.figure(figsize=(size[0] * ncols, size[1] * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes


@themed
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
        ax.hist(sel, bins=bins, range=xlim, density=True, color=NEUTRALS["band"],
                label=f"simulation d = {int(sim['d'])}")
        j = int(np.argmin(np.abs(th_taus - t)))
        ax.plot(x, np.asarray(theory[f"pde_snapshot_{j}"])[k], color=THEORY_STYLE["pde"][0], lw=1.2, label="PDE")
        if "particles_snapshot_taus" in theory:
            pj = int(np.argmin(np.abs(np.asarray(theory["particles_snapshot_taus"]) - t)))
            ax.hist(np.asarray(theory[f"particles_snapshot_{pj}"]), bins=bins, range=xlim, density=True,
                    histtype="step", color=color(0), lw=0.8, label="particles")
        ax.set_xlim(*xlim)
        ax.set_title(f"τ = {t:g}")
        ax.set_xlabel(r"student weight $\hat{w}$ (dimensionless)")
        ax.set_ylabel(rf"$\mu_\tau(\hat{{w}} \mid w^* = {teacher_value:g})$ (per unit $\hat{{w}}$)")
    if "pde_stationary" in theory and np.all(np.isfinite(np.asarray(theory["pde_stationary"])[k])):
        last = axes[len(taus) - 1]
        last.plot(x, np.asarray(theory["pde_stationary"])[k], color=NEUTRALS["black"], ls="--", lw=0.8,
                  label=r"stationary $\mu^*$ ($\tau \to \infty$)")
        last.legend(fontsize=7)
    axes[0].legend(fontsize=7)
    return fig


def _source(curves: pd.DataFrame, source: str, time_col: str) -> pd.DataFrame:
    """The rows of one source (``sim_mean``, ``pde``, …) in time order."""
    return curves[curves["source"] == source].sort_values(time_col)


@themed
def plot_error_curves(curves: pd.DataFrame, logx: bool = True, time_col: str = "tau") -> Figure:
    """ε(τ) per case: simulation mean with min–max band over seeds, and every limit curve."""
    cases = list(dict.fromkeys(curves["case"]))
    if not cases:
        raise ValueError("error-curve table holds no case (column 'case' is empty)")
    fig, axes = _grid(len(cases), ncols=4)
    for ax, case in zip(axes, cases):
        c = curves[curves["case"] == case]
        mean, lo, hi = (_source(c, s, time_col) for s in ("sim_mean", "sim_lo", "sim_hi"))
        t = mean[time_col].to_numpy()
        ok = t > 0 if logx else np.ones_like(t, bool)
        ax.fill_between(t[ok], lo["eps"].to_numpy()[ok], hi["eps"].to_numpy()[ok], color=NEUTRALS["band"],
                        label="simulation min–max")
        ax.plot(t[ok], mean["eps"].to_numpy()[ok], color=NEUTRALS["black"], lw=1.0, label="simulation mean")
        for src, (col, ls, label) in THEORY_STYLE.items():
            s = _source(c, src, time_col)
            if len(s):
                tt = s[time_col].to_numpy()
                ok2 = tt > 0 if logx else np.ones_like(tt, bool)
                ax.plot(tt[ok2], s["eps"].to_numpy()[ok2], color=col, ls=ls, lw=1.2, label=label)
        if logx:
            log_axis(ax, "x")
        ax.set_title(case_title(case))
        ax.set_xlabel(T_LABEL if time_col == "t" else TAU_LABEL)
        ax.set_ylabel(EPS_LABEL)
    axes[0].legend(fontsize=7)
    return fig


@themed
def plot_plateau(table: pd.DataFrame) -> Figure:
    """Plateau length vs ω: measured on the simulation and the PDE, and the τ_p formula.

    Cases whose target sits in the lower half of its bin (p_target < ½) end the plateau with a
    rise of ε instead of a drop (:mod:`stelab.theory.plateau`); they are labelled "rise".
    """
    fig = plt.figure(figsize=(4.6, 3.5), layout="constrained")
    ax = fig.subplots()
    t = table.sort_values("omega")
    ax.plot(t["omega"], t["tau_p_formula"], color=NEUTRALS["black"], ls="--", label="formula (θ − ŵ₀)/v")
    ax.plot(t["omega"], t["tau_p_sim"], "o", color=color(0), label="simulation")
    if "tau_p_pde" in t:
        ax.plot(t["omega"], t["tau_p_pde"], "x", color=THEORY_STYLE["pde"][0], ms=8, label="PDE")
    if "p_target" in t:  # the end of each plateau, written above the data (never over a marker)
        ax.margins(x=0.08, y=0.2)
        for om, p in zip(t["omega"], t["p_target"]):
            note = ax.annotate("drop" if p > 0.5 else "rise", (om, 0.97), xycoords=("data", "axes fraction"),
                               ha="center", va="top", fontsize=8, color=NEUTRALS["data"])
            note.set_in_layout(False)  # inside the axes: the layout (and so the saved bytes) must not depend on it
    ax.set_xlabel("weight range ω (dimensionless)")
    ax.set_ylabel(r"plateau length $\tau_p$ (τ = steps / d)")
    ax.legend()
    return fig


@themed
def plot_fixed_points(table: pd.DataFrame) -> Figure:
    """ε* vs ω per bit width (small-noise form dashed), and ε* vs η with ε*_0 (paper B's fixed-point
    analysis and deviation from the unquantized model; formulas in :mod:`stelab.theory.fixed_points`)."""
    fig = plt.figure(figsize=(9, 3.5), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    bo = table[table["sweep"] == "bits_omega"]
    for i, (b, g) in enumerate(bo.groupby("bits")):
        g = g.sort_values("omega")
        ax1.plot(g["omega"], g["eps_star"], "o-", color=color(i), label=f"b = {b}")
        if "small_noise" in g:
            ax1.plot(g["omega"], g["small_noise"], "--", color=color(i), lw=0.8)
    ax1.set_xlabel("weight range ω (dimensionless)")
    ax1.set_ylabel("fixed point ε* (MSE, dimensionless)")
    log_axis(ax1, "y")
    ax1.legend(title="dashed: small-noise", title_fontsize=7)
    et = table[table["sweep"] == "eta"].sort_values("eta")
    if len(et):
        ax2.plot(et["eta"], et["eps_star"], "o-", color=THEORY_STYLE["pde"][0], label="quantized ε*")
        ax2.plot(et["eta"], et["eps_star_0"], color=NEUTRALS["black"], ls="--", label="unquantized ησ²/(2 − η)")
        ax2.plot(et["eta"], et["deviation"], ":", color=color(0), label="deviation ε* − ε*₀")
        log_axis(ax2, "x", values=et["eta"])
        ax2.legend()
    else:
        ax2.set_visible(False)
    ax2.set_xlabel(ETA_LABEL)
    ax2.set_ylabel("ε* (MSE, dimensionless)")
    return fig


@themed
def plot_stability(table: pd.DataFrame) -> Figure:
    """ε after τ_max vs η: quantized stays bounded, unquantized diverges once ηc ≥ 2 (paper B's
    stability analysis; the threshold ηc < 2 is this workflow's derivation, :mod:`stelab.theory.fixed_points`)."""
    fig = plt.figure(figsize=(4.9, 3.5), layout="constrained")
    ax = fig.subplots()
    for i, (label, g) in enumerate(table.groupby("model")):
        g = g.sort_values("eta")
        ax.plot(g["eta"], g["sim_eps_mean"], "o", color=color(i), label=f"{label}: simulation")
        limit = g["theory"].iloc[0]
        ax.plot(g["eta"], g["theory_eps"], "-", color=color(i),
                label=f"{label}: {THEORY_STYLE[limit][2] if limit in THEORY_STYLE else limit}")
    ax.axvline(2.0, color=NEUTRALS["reference"], lw=0.8, ls=":", label="η = 2: unquantized stability edge (ηc = 2, c = 1)")
    log_axis(ax, "y")
    ax.set_xlabel(ETA_LABEL)
    ax.set_ylabel(r"$\varepsilon(\tau_{\max})$ (MSE, dimensionless)")
    ax.legend(fontsize=7)
    return fig


@themed
def plot_bridge(curves: pd.DataFrame, table: pd.DataFrame) -> Figure:
    """Q̂-net vs STE-net ε curves per η on t = ητ (simulation: wide pale line; every limit solved, e.g. PDE
    and Gaussian closure, in its own line style), and the gap vs η with a tick at every η."""
    etas = sorted(table["eta"], reverse=True)
    fig, axes = _grid(len(etas) + 1, ncols=4)
    for ax, eta in zip(axes, etas):
        for net, (col, net_label) in BRIDGE_NETS.items():
            c = curves[curves["case"] == f"{net}_eta{eta:g}"]
            sources = [("sim_mean", "-", "simulation")] + [(src, ls, name) for src, (_, ls, name) in THEORY_STYLE.items()]
            for src, ls, src_label in sources:  # every limit the experiment solved (the landing page's gaps)
                s = c[c["source"] == src].sort_values("t")
                if len(s):
                    wide = src == "sim_mean"
                    ax.plot(s["t"], s["eps"], color=col, ls=ls, lw=2.6 if wide else 1.0, alpha=0.45 if wide else 1.0,
                            label=f"{net_label}: {src_label}")
        ax.set_title(f"η = {eta:g}")
        ax.set_xlabel(T_LABEL)
        ax.set_ylabel(EPS_LABEL)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4))
    ax = axes[len(etas)]
    t = table.sort_values("eta")
    for i, (col, lab, mk) in enumerate((("sim_max_gap", "simulation: max |Δε|", "o-"),
                                        ("pde_max_gap", "PDE: max |Δε|", "s-"),
                                        ("pde_final_ks", "PDE: final KS distance", "^-"))):
        if col in t:
            ax.plot(t["eta"], t[col], mk, color=color(i), label=lab)
    log_axis(ax, "y")
    log_axis(ax, "x", values=t["eta"])
    ax.set_xlabel(ETA_LABEL)
    ax.set_ylabel("gap (dimensionless)")
    ax.set_title(r"$\hat{Q}$-net vs STE-net")
    ax.legend(fontsize=7)
    return fig
