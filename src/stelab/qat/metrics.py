"""Alignment metrics between two trained models (paper A, arXiv 2405.05171, §6.2, eq. 5).

Weight alignment error per quantized weight, normalised by the layer's representable-range
length w_max − w_min (= 2m for the range layout)::

    SGD / momentum baseline pair (Q̂-net vs STE-net started from M(w₀)):  E = |M(w_Q̂) − w_STE| / (2m)
    every other pair (Adam baseline, lr-tweak, unadjusted):             E = |w_a − w_b| / (2m)

so that E⁽⁰⁾ = 0 at the fork for every pair. Ē is the mean of E over all quantized weights of
the model, in percent. Quantized weight agreement is the fraction of quantized weights with
Q(w_a) == Q(w_b). Both are computed at the end of training (Tables 3–4) and, from weight
snapshots, every ``track_every`` steps during training (the paper's App. I future-work item).
The pairs are :data:`stelab.qat.settings.PAIRS`; Table 5 adds each branch's final loss and
accuracy and their differences.
"""

from __future__ import annotations

import numpy as np
import torch

from ..equivalence import WeightMap
from ..estimators import get_estimator

#: the per-branch final metrics of Table 5
FINAL_METRICS = ("train_acc", "train_loss", "val_acc", "val_loss")


def uses_weight_map(pair: str, optimizer: str) -> bool:
    """Whether E compares M(w_Q̂) (SGD/momentum baseline) or the plain weights (eq. 5)."""
    return pair == "baseline" and optimizer != "adam"


def alignment_error(w_a: torch.Tensor, w_b: torch.Tensor, quantizer) -> torch.Tensor:
    """Per-weight E = |w_a − w_b| / (w_max − w_min) (fraction of the representable range)."""
    lo, hi = quantizer.representable_range
    return (w_a.double() - w_b.double()).abs() / (hi - lo)


def pair_metrics(weights_a: dict, weights_b: dict, quantizers: dict, maps: dict | None = None) -> dict:
    """Ē (%) and quantized agreement (%) over all quantized weights of two models.

    ``weights_*``: {name: latent weight tensor}; ``quantizers``: {name: UniformQuantizer};
    ``maps``: {name: WeightMap} applied to ``weights_a`` first (the SGD baseline pair), or None.
    """
    err_sum, agree, count = 0.0, 0, 0
    for name, q in quantizers.items():
        a, b = weights_a[name].detach().cpu(), weights_b[name].detach().cpu()
        if a.shape != b.shape:
            raise ValueError(f"parameter {name}: shapes differ ({tuple(a.shape)} vs {tuple(b.shape)})")
        a_cmp = maps[name](a.double()) if maps else a
        err_sum += float(alignment_error(a_cmp, b, q).sum())
        agree += int((q.index(a) == q.index(b)).sum())
        count += a.numel()
    if count == 0:
        raise ValueError("no quantized weights to compare")
    return {"E_bar": 100.0 * err_sum / count, "agreement": 100.0 * agree / count, "n_weights": count}


def weight_maps(estimators: dict, quantizers: dict) -> dict:
    """{name: WeightMap} of each quantized parameter's (Q̂-net) estimator."""
    return {n: WeightMap(get_estimator(estimators[n]), q) for n, q in quantizers.items()}


def tracked_pair_metrics(snaps_a: dict, snaps_b: dict, quantizers: dict, maps: dict | None = None,
                         from_step: int = 0) -> list[dict]:
    """Ē and agreement at every step both runs snapshotted (``{"steps", "weights"}``), from ``from_step`` on."""
    index_b = {s: i for i, s in enumerate(snaps_b["steps"])}
    rows = []
    for i, step in enumerate(snaps_a["steps"]):
        if step < from_step or step not in index_b:
            continue
        j = index_b[step]
        wa = {n: snaps_a["weights"][n][i] for n in quantizers}
        wb = {n: snaps_b["weights"][n][j] for n in quantizers}
        rows.append({"step": int(step), **pair_metrics(wa, wb, quantizers, maps)})
    return rows


def final_metrics(history: list[dict]) -> dict:
    """Last epoch's train/val loss and accuracy of a run (Table 5)."""
    if not history:
        raise ValueError("run has no evaluated epoch (history is empty)")
    last = history[-1]
    return {k: float(last[k]) for k in FINAL_METRICS}


def metric_differences(qhat: dict, other: dict) -> dict:
    """Table 5 "Diff" row: Q̂-net minus the other net for each metric (the paper's sign convention,
    e.g. MNIST SGD train loss 0.1483 − 0.1439 = 0.0044 with the STE-net as the other)."""
    return {k: qhat[k] - other[k] for k in FINAL_METRICS}


def in_percent(metrics: dict) -> dict:
    """The metrics with accuracies (fractions) in percent, as the tables print them."""
    return {k: v * (100 if k.endswith("acc") else 1) for k, v in metrics.items()}


def loglog_slope(x, y) -> tuple[float, float]:
    """Least-squares slope and intercept of log10 y against log10 x (the Ē-vs-η sweep)."""
    lx, ly = np.log10(np.asarray(x, float)), np.log10(np.asarray(y, float))
    if len(lx) < 2:
        raise ValueError("a log-log fit needs at least two points")
    slope, intercept = np.polyfit(lx, ly, 1)
    return float(slope), float(intercept)
