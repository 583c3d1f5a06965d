"""Figures of the QAT report (paper A, arXiv 2405.05171): Fig. 3 (App. J), Ē and quantized
agreement over training (§6.2 metrics, the App. I future-work item), Ē against η.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .paper_values import PAPER_BITS
from ..optimizers import OPTIMIZERS
from .settings import LR_TWEAK, PAIRS

#: colour and legend label of each pair of :data:`PAIRS`
PAIR_STYLE = {"baseline": ("C0", "baseline (Q̂ vs STE)"), "lrtweak": ("C2", f"lr-tweak (Q̂ vs Q̂, η×{LR_TWEAK})"),
              "unadjusted": ("C3", "unadjusted (Q̂ vs STE, no M)")}
#: axis-title label of each optimiser of :data:`OPTIMIZERS`
OPT_LABEL = {"momentum": "SGD + momentum", "sgd": "SGD", "adam": "Adam"}


def plot_weight_scatter(scatter: dict, optimizer: str = "momentum", max_points: int | None = None):
    """Fig. 3: Q̂-net vs STE-net weights at the end of training, (a) adjusted by M, (b) unadjusted.

    ``scatter`` holds ``{optimizer}_{adjusted|unadjusted}_{x|y}`` arrays in units of the layer's
    range half-length and the rounding ``thresholds`` in the same units (grid lines; see
    :func:`stelab.qat.compare.compare_runs`).
    """
    panels = [p for p in ("adjusted", "unadjusted") if f"{optimizer}_{p}_x" in scatter]
    if not panels:
        raise ValueError(f"no scatter data for optimizer {optimizer!r}; have {sorted(scatter)}")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 4.4), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        x, y = np.asarray(scatter[f"{optimizer}_{panel}_x"]), np.asarray(scatter[f"{optimizer}_{panel}_y"])
        if max_points:
            x, y = x[:max_points], y[:max_points]
        lim = float(max(np.abs(x).max(), np.abs(y).max(), 1.0)) * 1.05
        ax.plot([-lim, lim], [-lim, lim], color="0.6", lw=1, zorder=0)
        for t in np.asarray(scatter.get("thresholds", ())):
            ax.axvline(t, color="0.85", lw=0.8, zorder=0)
            ax.axhline(t, color="0.85", lw=0.8, zorder=0)
        ax.scatter(x, y, s=3, alpha=0.35, color="C0" if panel == "adjusted" else "C3", rasterized=True)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        xl = "M(w_Q̂) / m" if panel == "adjusted" and optimizer != "adam" else "w_Q̂ / m"
        ax.set_xlabel(f"Q̂-net: {xl}")
        ax.set_ylabel("STE-net: w_STE / m")
        ax.set_title(f"({'a' if panel == 'adjusted' else 'b'}) {panel}, {OPT_LABEL.get(optimizer, optimizer)}",
                     fontsize=10)
    fig.tight_layout()
    return fig


def _band(ax, d: pd.DataFrame, x: str, y: str, color, label):
    g = d.groupby(x)[y]
    mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
    ax.plot(mean.index, mean.values, color=color, lw=1.6, label=label)
    ax.fill_between(mean.index, (mean - sd).values, (mean + sd).values, color=color, alpha=0.2, lw=0)


def plot_tracking(tracking: pd.DataFrame, bits: int | None = None):
    """Ē (%) and quantized agreement (%) against the training step, per optimizer and pair (mean ± sd over seeds).

    One bit width is drawn: ``bits``, by default the paper's (2) when present, else the fewest.
    """
    d = tracking[tracking["sweep_factor"] == 1.0]
    if bits is None and len(d):
        bits = PAPER_BITS if PAPER_BITS in set(d["bits"]) else int(d["bits"].min())
    d = d[d["bits"] == bits]
    optimizers = [o for o in OPTIMIZERS if o in set(d["optimizer"])]
    if not optimizers:
        raise ValueError("tracking table holds no runs at learning-rate factor 1")
    fig, axes = plt.subplots(2, len(optimizers), figsize=(5.0 * len(optimizers), 6.4), squeeze=False, sharex="col")
    for j, opt in enumerate(optimizers):
        for pair in PAIRS:
            color, label = PAIR_STYLE[pair]
            dp = d[(d["optimizer"] == opt) & (d["pair"] == pair)]
            if dp.empty:
                continue
            _band(axes[0, j], dp, "step", "E_bar", color, label)
            _band(axes[1, j], dp, "step", "agreement", color, label)
        axes[0, j].set_title(OPT_LABEL.get(opt, opt), fontsize=10)
        axes[0, j].set_ylabel("Ē (% of range)")
        axes[1, j].set_ylabel("quantized agreement (%)")
        axes[1, j].set_xlabel("training step")
        axes[0, j].legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_lr_sweep(sweep: pd.DataFrame, fits: dict):
    """Ē of the baseline pair against the learning-rate factor on log-log axes, with the fitted slope."""
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    several = sweep["bits"].nunique() > 1
    for i, ((bits, opt), g) in enumerate(sweep.groupby(["bits", "optimizer"])):
        g = g.sort_values("sweep_factor")
        color = f"C{i}"
        label = OPT_LABEL.get(opt, opt) + (f", {bits} bit" if several else "")
        key = f"{opt}, {bits} bit" if several else opt
        ax.errorbar(g["sweep_factor"], g["E_bar_mean"], yerr=g["E_bar_sd"].fillna(0.0), fmt="o", color=color,
                    capsize=3, label=label)
        if key in fits:
            f = fits[key]
            xs = np.geomspace(g["sweep_factor"].min(), g["sweep_factor"].max(), 50)
            ax.plot(xs, 10 ** f["intercept"] * xs ** f["slope"], color=color, lw=1.2,
                    label=f"{label}: fitted slope {f['slope']:.2f}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning-rate factor η / η₀")
    ax.set_ylabel("Ē of the baseline pair (%)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
