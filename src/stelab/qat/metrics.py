"""Alignment metrics between two trained models (paper A, arXiv 2405.05171, §6.2, eq. 5).

Weight alignment error per quantized weight, normalised by the layer's representable-range
length w_max − w_min (= 2m for the range layout)::

    SGD / momentum baseline pair (Q̂-net vs STE-net started from M(w₀)):  E = |M(w_Q̂) − w_STE| / (2m)
    every other pair (Adam baseline, lr-tweak, unadjusted):             E = |w_a − w_b| / (2m)

so that E⁽⁰⁾ = 0 at the fork for every pair. Ē is the mean of E over all quantized weights of
the model, in percent (the paper's text, §6.2); ``E_bar_m`` is the same mean with each weight's
difference divided by m instead of 2m (the per-weight normaliser of the authors' code). The first author's code (``mschoenb97/experiments``,
``compute_distance_metric``) normalises differently: ``E_bar_path`` is, in percent,

    Σ_layers Σ_w |M(w_Q̂) − w_STE| / m_layer   ÷   Σ_steps Σ_layers Σ_w |Δw_STE| / m_layer

(m_layer: the layer's range half-width; the weight count cancels), i.e. the alignment error
as a fraction of the distance the other net's weights travelled (:class:`PathLength`, kept by
the training loop since the run's start or fork). Quantized weight agreement is the fraction of
quantized weights with Q(w_a) == Q(w_b). Both are computed at the end of training (Tables 3–4) and, from weight
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


def half_range(quantizer) -> float:
    """m_layer = (w_max − w_min)/2, the quantizer's range half-width (the authors' ``max_val``)."""
    lo, hi = quantizer.representable_range
    return (hi - lo) / 2


def pair_metrics(weights_a: dict, weights_b: dict, quantizers: dict, maps: dict | None = None,
                 path_b: float | None = None) -> dict:
    """Ē in three normalisations (%) and quantized agreement (%) over all quantized weights of two models.

    ``E_bar`` = mean |Δw|/(2m) (range length, §6.2's text), ``E_bar_m`` = mean |Δw|/m (the
    authors' per-weight normaliser ``max_val`` without the path ratio), ``E_bar_path`` (their code).

    ``weights_*``: {name: latent weight tensor}; ``quantizers``: {name: UniformQuantizer};
    ``maps``: {name: WeightMap} applied to ``weights_a`` first (the SGD baseline pair), or None;
    ``path_b``: Σ_steps Σ_w |Δw|/m_layer of model b (:class:`PathLength`); ``E_bar_path`` is NaN
    when it is None or 0 (a model that has not moved).
    """
    err_sum, err_half, agree, count = 0.0, 0.0, 0, 0
    for name, q in quantizers.items():
        a, b = weights_a[name].detach().cpu(), weights_b[name].detach().cpu()
        if a.shape != b.shape:
            raise ValueError(f"parameter {name}: shapes differ ({tuple(a.shape)} vs {tuple(b.shape)})")
        a_cmp = maps[name](a.double()) if maps else a
        e = alignment_error(a_cmp, b, q).sum()
        err_sum += float(e)
        err_half += 2.0 * float(e)  # |·|/(2m) → |·|/m
        agree += int((q.index(a) == q.index(b)).sum())
        count += a.numel()
    if count == 0:
        raise ValueError("no quantized weights to compare")
    e_path = 100.0 * err_half / path_b if path_b else float("nan")
    return {"E_bar": 100.0 * err_sum / count, "E_bar_m": 100.0 * err_half / count, "E_bar_path": e_path,
            "agreement": 100.0 * agree / count, "n_weights": count}


class PathLength:
    """Distance travelled by a model's quantized weights, Σ_steps Σ_w |w⁽ᵗ⁺¹⁾ − w⁽ᵗ⁾| / m_layer.

    The denominator of the authors' Ē (``StoreWeightsCallback.distance_traveled`` in
    ``mschoenb97/experiments``; see the module docstring). The loop calls :meth:`before_step` /
    :meth:`after_step` around every optimiser step and :meth:`mark` at every weight snapshot;
    :meth:`state` is stored in the checkpoint under ``path_length`` (``total`` and the running
    value at each marked step), so a resumed run continues the same sum. The sum is kept in
    float64 on the weights' device.
    """

    def __init__(self, layers: dict, state: dict | None = None):
        """``layers``: {name: (latent parameter, QuantizeParam)} (:func:`stelab.qat.models.quantized_layers`)."""
        state = state or {"total": 0.0, "steps": [], "values": []}
        self._params = [(p, 1.0 / half_range(pq.quantizer)) for p, pq in layers.values()]
        device = self._params[0][0].device if self._params else "cpu"
        self._total = torch.tensor(float(state["total"]), dtype=torch.float64, device=device)
        self.steps, self.values = list(state["steps"]), list(state["values"])
        self._prev: list = []

    def before_step(self) -> None:
        self._prev = [p.detach().clone() for p, _ in self._params]

    def after_step(self) -> None:
        with torch.no_grad():
            for (p, inv_m), prev in zip(self._params, self._prev):
                self._total += (p.detach() - prev).abs().sum(dtype=torch.float64) * inv_m
        self._prev = []

    @property
    def total(self) -> float:
        return float(self._total)

    def mark(self, step: int) -> None:
        """Record the running total at ``step`` (once per step)."""
        if not self.steps or self.steps[-1] != step:
            self.steps.append(int(step))
            self.values.append(self.total)

    def state(self) -> dict:
        return {"total": self.total, "steps": list(self.steps), "values": list(self.values)}


def weight_maps(estimators: dict, quantizers: dict) -> dict:
    """{name: WeightMap} of each quantized parameter's (Q̂-net) estimator."""
    return {n: WeightMap(get_estimator(estimators[n]), q) for n, q in quantizers.items()}


def tracked_pair_metrics(snaps_a: dict, snaps_b: dict, quantizers: dict, maps: dict | None = None,
                         from_step: int = 0, path_b: dict | None = None) -> list[dict]:
    """Ē, path-normalised Ē and agreement at every step both runs snapshotted (``{"steps", "weights"}``),
    from ``from_step`` on; ``path_b``: model b's :meth:`PathLength.state` (its value at each marked step)."""
    index_b = {s: i for i, s in enumerate(snaps_b["steps"])}
    path_at = dict(zip(path_b["steps"], path_b["values"])) if path_b else {}
    rows = []
    for i, step in enumerate(snaps_a["steps"]):
        if step < from_step or step not in index_b:
            continue
        j = index_b[step]
        wa = {n: snaps_a["weights"][n][i] for n in quantizers}
        wb = {n: snaps_b["weights"][n][j] for n in quantizers}
        rows.append({"step": int(step), **pair_metrics(wa, wb, quantizers, maps, path_at.get(step))})
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
