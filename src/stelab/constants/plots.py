"""Figures of the estimator zoo: Fig. 1 of paper A (Q̂ and Q̂') and the weight map M(w) with α."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd


def _grid(n: int, ncols: int = 3):
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_estimators(curves: pd.DataFrame):
    """One panel per estimator: Q (grey), Q̂ (solid, where it exists) and Q̂' (dashed, right axis)."""
    labels = list(dict.fromkeys(curves["label"]))
    fig, axes = _grid(len(labels))
    for ax, label in zip(axes, labels):
        d = curves[curves["label"] == label]
        ax.plot(d["w"], d["Q"], color="0.6", lw=1.5, label="Q")
        if d["Qhat"].notna().any():
            ax.plot(d["w"], d["Qhat"], color="C0", lw=1.5, label="Q̂")
        ax2 = ax.twinx()
        ax2.plot(d["w"], d["dQhat"], color="C3", ls="--", lw=1.2, label="Q̂'")
        ax2.set_ylim(bottom=0)
        ax.set_title(f"{label} (b={int(d['bits'].iloc[0])})", fontsize=10)
        ax.set_xlabel("latent weight w / m")
    fig.legend(
        handles=[plt.Line2D([], [], color="0.6"), plt.Line2D([], [], color="C0"), plt.Line2D([], [], color="C3", ls="--")],
        labels=["Q (forward)", "Q̂ (left axis)", "Q̂' (right axis)"],
        loc="lower center",
        ncol=3,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def plot_weight_maps(curves: pd.DataFrame):
    """One panel per estimator: M(w) against the identity, thresholds fixed, α in the title."""
    labels = [lab for lab in dict.fromkeys(curves["label"]) if curves.loc[curves["label"] == lab, "M"].notna().any()]
    fig, axes = _grid(len(labels))
    for ax, label in zip(axes, labels):
        d = curves[curves["label"] == label]
        ax.plot(d["w"], d["w"], color="0.7", lw=1, ls=":")
        ax.plot(d["w"], d["M"], color="C2", lw=1.6)
        ax.set_title(f"{label}: α = {d['alpha'].iloc[0]:.4f}", fontsize=10)
        ax.set_xlabel("w / m")
        ax.set_ylabel("M(w) / m")
    fig.tight_layout()
    return fig
