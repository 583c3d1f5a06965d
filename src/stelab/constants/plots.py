"""Figures of the estimator zoo: Fig. 1 of paper A (arXiv 2405.05171, §3: Q̂ and Q̂') and the weight map
M(w) of §5.1 (eq. 4) with α, drawn under the workflow's theme (:mod:`stelab.report.theme`).

Weights and quantizer outputs are in units of the range half-width m (the curves are computed with
m = 1); Q̂' and M'(w) are dimensionless.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from ..report.theme import NEUTRALS, color, themed

W_LABEL = "latent weight w (units of m)"


def _grid(n: int, ncols: int = 3):
    nrows = math.ceil(n / ncols)
    ncols = min(ncols, n)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def _outer_labels(axes, n: int, ncols: int, twins=None) -> None:
    """Axis labels only where they are read: x on the bottom panel of each column, y (and a twin's right
    label) on the first (last) panel of each row; the hidden labels keep their text for reference."""
    for i, ax in enumerate(axes[:n]):
        below = i + ncols < n
        ax.xaxis.label.set_visible(not below)
        ax.yaxis.label.set_visible(i % ncols == 0)
        if twins is not None:
            twins[i].yaxis.label.set_visible(i % ncols == ncols - 1 or i == n - 1)


@themed
def plot_estimators(curves: pd.DataFrame):
    """Fig. 1: one panel per estimator with Q (grey), Q̂ (solid, where it has a closed form) on the left
    axis and Q̂' (dashed) on the right axis; ``curves`` is the ``--curves`` TSV of ``stelab constants``.
    Axis labels appear once per row and column, the legend once below the panels."""
    labels = list(dict.fromkeys(curves["label"]))
    if not labels:
        raise ValueError("estimator curves table holds no estimator (column 'label' is empty)")
    fig, axes = _grid(len(labels))
    twins = []
    for ax, label in zip(axes, labels):
        d = curves[curves["label"] == label]
        ax.plot(d["w"], d["Q"], color=NEUTRALS["reference"], lw=1.5)
        if d["Qhat"].notna().any():
            ax.plot(d["w"], d["Qhat"], color=color(0), lw=1.5)
        ax.set_xlabel(W_LABEL)
        ax.set_ylabel(r"$Q(w)$, $\hat{Q}(w)$ (units of m)")
        ax2 = ax.twinx()
        ax2.plot(d["w"], d["dQhat"], color=color(3), ls="--", lw=1.2)
        ax2.set_ylim(bottom=0)
        ax2.grid(False)
        ax2.spines["right"].set_visible(True)
        ax2.set_ylabel(r"$\hat{Q}'(w)$ (dimensionless)")
        twins.append(ax2)
        ax.set_title(f"{label} (b = {int(d['bits'].iloc[0])})")
    _outer_labels(list(axes), len(labels), min(3, len(labels)), twins)
    fig.legend(
        handles=[Line2D([], [], color=NEUTRALS["reference"]), Line2D([], [], color=color(0)),
                 Line2D([], [], color=color(3), ls="--")],
        labels=["Q (forward)", r"$\hat{Q}$ (left axis)", r"$\hat{Q}'$ (right axis)"],
        loc="outside lower center",
        ncol=3,
        fontsize=11,
    )
    return fig


@themed
def plot_weight_maps(curves: pd.DataFrame):
    """One panel per estimator: M(w) against the identity (dotted), thresholds fixed, α (eq. 4) in the title."""
    labels = [lab for lab in dict.fromkeys(curves["label"]) if curves.loc[curves["label"] == lab, "M"].notna().any()]
    if not labels:
        raise ValueError("estimator curves table holds no weight map (column 'M' is empty for every estimator)")
    fig, axes = _grid(len(labels))
    for ax, label in zip(axes, labels):
        d = curves[curves["label"] == label]
        ax.plot(d["w"], d["w"], color=NEUTRALS["reference"], lw=1, ls=":")
        ax.plot(d["w"], d["M"], color=color(2), lw=1.6)
        ax.set_title(f"{label}: α = {d['alpha'].iloc[0]:.4f}")
        ax.set_xlabel(W_LABEL)
        ax.set_ylabel("M(w) (units of m)")
    _outer_labels(list(axes), len(labels), min(3, len(labels)))
    fig.legend(handles=[Line2D([], [], color=color(2), lw=1.6), Line2D([], [], color=NEUTRALS["reference"], ls=":")],
               labels=["M(w)", "identity M(w) = w"], loc="outside lower center", ncol=2, fontsize=11)
    return fig
