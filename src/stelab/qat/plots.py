"""Figures of the QAT report (paper A, arXiv 2405.05171): Fig. 3 (App. J), Ē and quantized
agreement over training (§6.2 metrics, the App. I future-work item), Ē against η; drawn under
the workflow's theme (:mod:`stelab.report.theme`).

Ē comes in three normalisations, each drawn where its column holds values and labelled with its
formula (:data:`stelab.qat.display.E_BAR_AXIS`): ``E_bar`` (§6.2: mean |Δw|/2m, % of the layer's
representable range), ``E_bar_m`` (mean |Δw|/m, the authors' per-weight normaliser) and ``E_bar_path``
(% of the distance the weights travelled, :mod:`stelab.qat.metrics`); tables carry them as
``<column>_mean``/``<column>_sd``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..report.theme import NEUTRALS, color, log_axis, themed
from ..optimizers import OPTIMIZERS
from .display import E_BAR_AXIS
from .paper_values import PAPER_BITS
from .settings import LR_TWEAK, PAIRS

#: colour and legend label of each pair of :data:`PAIRS`
PAIR_STYLE = {"baseline": (color(0), r"baseline ($\hat{Q}$ vs STE)"),
              "lrtweak": (color(2), rf"lr-tweak ($\hat{{Q}}$ vs $\hat{{Q}}$, η×{LR_TWEAK})"),
              "unadjusted": (color(3), r"unadjusted ($\hat{Q}$ vs STE, no M)")}
#: axis-title label of each optimiser of :data:`OPTIMIZERS`
OPT_LABEL = {"momentum": "SGD + momentum", "sgd": "SGD", "adam": "Adam"}
#: the Ē normalisations: column → (legend label, axis label with unit, marker of the lr sweep)
E_BAR_KINDS = {"E_bar": ("Ē = mean |Δw|/2m", E_BAR_AXIS["E_bar"], "o"),
               "E_bar_m": ("Ē_m = mean |Δw|/m", E_BAR_AXIS["E_bar_m"], "D"),
               "E_bar_path": ("Ē_path (% of path)", f"{E_BAR_AXIS['E_bar_path']} (%)", "s")}


def _e_bar_columns(table: pd.DataFrame, suffix: str = "") -> list[str]:
    """The Ē kinds of :data:`E_BAR_KINDS` with values in ``table`` (column kind + ``suffix`` not all NaN:
    tables compared before ``E_bar_path`` existed hold it as NaN); ``E_bar`` is required, and ``E_bar_m``
    (= 2 ``E_bar`` exactly) is derived where a table predates it."""
    if f"E_bar{suffix}" not in table.columns:
        raise ValueError(f"table has no column 'E_bar{suffix}'; have {sorted(table.columns)}")
    if f"E_bar_m{suffix}" not in table.columns:
        table[f"E_bar_m{suffix}"] = 2.0 * table[f"E_bar{suffix}"]
        if suffix:
            table["E_bar_m_sd"] = 2.0 * table["E_bar_sd"]
    return [kind for kind in E_BAR_KINDS if f"{kind}{suffix}" in table.columns
            and (kind == "E_bar" or table[f"{kind}{suffix}"].notna().any())]


@themed
def plot_weight_scatter(scatter: dict, optimizers=None, max_points: int | None = None):
    """Fig. 3: Q̂-net vs STE-net weights at the end of training, (a) adjusted by M, (b) unadjusted;
    one row per optimizer (``optimizers``, default: every optimizer in ``scatter``).

    ``scatter`` holds ``{optimizer}_{adjusted|unadjusted}_{x|y}`` arrays in units of the layer's
    range half-length and the rounding ``thresholds`` in the same units (grid lines; see
    :func:`stelab.qat.compare.compare_runs`).
    """
    optimizers = [o for o in OPTIMIZERS if f"{o}_adjusted_x" in scatter or f"{o}_unadjusted_x" in scatter] \
        if optimizers is None else list(optimizers)
    rows = [[p for p in ("adjusted", "unadjusted") if f"{o}_{p}_x" in scatter] for o in optimizers]
    if not optimizers or not all(rows):
        raise ValueError(f"no scatter data for optimizers {optimizers}; have {sorted(scatter)}")
    ncols = max(len(r) for r in rows)
    fig, axes = plt.subplots(len(rows), ncols, figsize=(3.9 * ncols, 3.7 * len(rows)), squeeze=False,
                             layout="constrained")
    for i, (optimizer, panels) in enumerate(zip(optimizers, rows)):
        for ax in axes[i, len(panels):]:
            ax.set_visible(False)
        for ax, panel in zip(axes[i], panels):
            x, y = np.asarray(scatter[f"{optimizer}_{panel}_x"]), np.asarray(scatter[f"{optimizer}_{panel}_y"])
            if max_points:
                x, y = x[:max_points], y[:max_points]
            lim = float(max(np.abs(x).max(), np.abs(y).max(), 1.0)) * 1.05
            ax.plot([-lim, lim], [-lim, lim], color=NEUTRALS["reference"], lw=1, zorder=0,
                    label="identity (equal weights)")
            for k, t in enumerate(np.asarray(scatter.get("thresholds", ()))):
                ax.axvline(t, color=NEUTRALS["band"], lw=0.8, zorder=0, label="rounding thresholds" if k == 0 else None)
                ax.axhline(t, color=NEUTRALS["band"], lw=0.8, zorder=0)
            ax.scatter(x, y, s=3, alpha=0.35, color=color(0) if panel == "adjusted" else color(3), rasterized=True,
                       linewidths=0)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            x_weight = r"$M(w_{\hat{Q}})$" if panel == "adjusted" and optimizer != "adam" else r"$w_{\hat{Q}}$"
            ax.set_xlabel(rf"$\hat{{Q}}$-net: {x_weight} (units of m)")
            ax.set_ylabel(r"STE-net: $w_{\mathrm{STE}}$ (units of m)")
            ax.set_title(f"({'a' if panel == 'adjusted' else 'b'}) {panel}, {OPT_LABEL.get(optimizer, optimizer)}")
    axes[0, 0].legend(loc="upper left", markerscale=3)
    return fig


def _band(ax, d: pd.DataFrame, x: str, y: str, color, label):
    g = d.groupby(x)[y]
    mean, sd = g.mean(), g.std(ddof=1).fillna(0.0)
    ax.plot(mean.index, mean.values, color=color, lw=1.6, label=label)
    ax.fill_between(mean.index, (mean - sd).values, (mean + sd).values, color=color, alpha=0.2, lw=0)


@themed
def plot_tracking(tracking: pd.DataFrame, bits: int | None = None):
    """Ē (%, each normalisation present) and quantized agreement (%) against the training step, per
    optimizer and pair (mean ± sd over seeds).

    One bit width is drawn: ``bits``, by default the paper's (2) when present, else the fewest.
    """
    tracking = tracking.copy()
    kinds = _e_bar_columns(tracking)
    d = tracking[tracking["sweep_factor"] == 1.0]
    if bits is None and len(d):
        bits = PAPER_BITS if PAPER_BITS in set(d["bits"]) else int(d["bits"].min())
    d = d[d["bits"] == bits]
    optimizers = [o for o in OPTIMIZERS if o in set(d["optimizer"])]
    if not optimizers:
        raise ValueError("tracking table holds no runs at learning-rate factor 1")
    rows = [*kinds, "agreement"]
    fig, axes = plt.subplots(len(rows), len(optimizers), figsize=(4.6 * len(optimizers), 2.7 * len(rows)),
                             squeeze=False, sharex="col", layout="constrained")
    for j, opt in enumerate(optimizers):
        for pair in PAIRS:
            pair_color, label = PAIR_STYLE[pair]
            dp = d[(d["optimizer"] == opt) & (d["pair"] == pair)]
            if dp.empty:
                continue
            for i, column in enumerate(rows):
                _band(axes[i, j], dp, "step", column, pair_color, label)
        axes[0, j].set_title(OPT_LABEL.get(opt, opt))
        for i, kind in enumerate(kinds):
            axes[i, j].set_ylabel(E_BAR_KINDS[kind][1])
        axes[-1, j].set_ylabel("quantized agreement (%)")
        for ax in axes[:, j]:
            ax.set_xlabel("training step (optimizer steps)")
            ax.xaxis.label.set_visible(ax is axes[-1, j])
        axes[0, j].legend()
    return fig


@themed
def plot_lr_sweep(sweep: pd.DataFrame, fits: dict):
    """Ē of the baseline pair against the learning-rate factor on log-log axes (each normalisation
    present, mean ± sd over seeds), with the log-log fit of ``fits`` (``E_bar``)."""
    if sweep.empty:
        raise ValueError("learning-rate sweep table is empty (qat.lr_sweep needs a factor other than 1)")
    sweep = sweep.copy()
    kinds = _e_bar_columns(sweep, "_mean")
    fig, ax = plt.subplots(figsize=(6.0, 4.6), layout="constrained")
    several = sweep["bits"].nunique() > 1
    for i, ((bits, opt), g) in enumerate(sweep.groupby(["bits", "optimizer"])):
        g = g.sort_values("sweep_factor")
        run_color = color(i)
        label = OPT_LABEL.get(opt, opt) + (f", {bits} bit" if several else "")
        for kind in kinds:
            kind_label, _, marker = E_BAR_KINDS[kind]
            ax.errorbar(g["sweep_factor"], g[f"{kind}_mean"], yerr=g[f"{kind}_sd"].fillna(0.0), fmt=marker,
                        color=run_color, mfc="none" if kind != "E_bar" else run_color, capsize=3,
                        label=f"{label}: {kind_label}")
        key = f"{opt}, {bits} bit" if several else opt
        if key in fits:
            f = fits[key]
            xs = np.geomspace(g["sweep_factor"].min(), g["sweep_factor"].max(), 50)
            ax.plot(xs, 10 ** f["intercept"] * xs ** f["slope"], color=run_color, lw=1.2,
                    label=f"{label}: fitted slope {f['slope']:.2f}")
    log_axis(ax, "y")
    log_axis(ax, "x", values=sweep["sweep_factor"])
    ax.set_xlabel(r"learning-rate factor $\eta/\eta_0$ (dimensionless)")
    ax.set_ylabel("Ē of the baseline pair (%)")
    ax.legend(fontsize=7.5)
    return fig
