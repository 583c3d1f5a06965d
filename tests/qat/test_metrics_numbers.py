"""Alignment metrics (qat/metrics.py) on hand-computed pairs: every normalisation of Ē, the tracked rows, the
final metrics and their units, the log-log fit, the path length's float64 sum and the messages."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from stelab.qat.metrics import (PathLength, final_metrics, in_percent, loglog_slope, pair_metrics,
                                tracked_pair_metrics, weight_maps)
from stelab.qat.models import quantize_parameters, quantized_layers
from stelab.quantizers import UniformQuantizer

QS = {"a": UniformQuantizer(2, 1.0), "b": UniformQuantizer(2, 0.5)}
WA = {"a": torch.tensor([0.1, 0.4, -0.9]), "b": torch.tensor([0.05])}
WB = {"a": torch.tensor([0.3, 0.4, -0.5]), "b": torch.tensor([-0.05])}
# |Δw| = 0.2, 0, 0.4 (m = 1) and 0.1 (m = 0.5): |Δ|/m = 0.2, 0, 0.4, 0.2; 4 weights
SUM_OVER_M = 0.8


def test_every_normalisation_of_e_bar_by_hand():
    out = pair_metrics(WA, WB, QS, path_b=16.0)
    assert out["E_bar"] == pytest.approx(100 * SUM_OVER_M / 2 / 4, rel=1e-6)   # |Δ|/(2m): 10 %
    assert out["E_bar_m"] == pytest.approx(100 * SUM_OVER_M / 4, rel=1e-6)     # |Δ|/m: 20 %
    assert out["E_bar_path"] == pytest.approx(100 * SUM_OVER_M / 16.0, rel=1e-6)  # 5 %
    # Q: −0.9 → −1 and −0.5 → −1/3 differ; 0.1, 0.3 → 1/3 agree; 0.4 agrees; ±0.05 straddle 0 (m = 0.5)
    assert out["agreement"] == pytest.approx(100 * 2 / 4)
    assert out["n_weights"] == 4


def test_pair_metrics_refuses_mismatched_or_empty_models():
    with pytest.raises(ValueError, match=r"^parameter b: shapes differ \(\(1,\) vs \(2,\)\)$"):
        pair_metrics(WA, {**WB, "b": torch.zeros(2)}, QS)
    with pytest.raises(ValueError, match=r"^no quantized weights to compare$"):
        pair_metrics({}, {}, {})
    one = pair_metrics({"b": torch.tensor([0.2])}, {"b": torch.tensor([0.1])}, {"b": QS["b"]})
    assert one["n_weights"] == 1 and one["E_bar_m"] == pytest.approx(20.0, rel=1e-6)
    assert math.isnan(one["E_bar_path"])


def test_tracked_metrics_use_the_path_at_each_step_and_start_at_the_fork():
    snaps_a = {"steps": [0, 4, 8], "weights": {n: [WA[n], WA[n], WA[n] * 0] for n in QS}}
    snaps_b = {"steps": [0, 4, 8, 12], "weights": {n: [WA[n], WB[n], WB[n] * 0, WB[n]] for n in QS}}
    path = {"steps": [0, 4, 8], "values": [0.0, 8.0, 10.0]}
    rows = tracked_pair_metrics(snaps_a, snaps_b, QS, path_b=path)
    assert [r["step"] for r in rows] == [0, 4, 8]
    assert rows[0]["E_bar_m"] == 0.0 and math.isnan(rows[0]["E_bar_path"])
    assert rows[1]["E_bar_m"] == pytest.approx(20.0, rel=1e-6) and rows[1]["E_bar_path"] == pytest.approx(10.0, rel=1e-6)
    assert rows[2]["E_bar_m"] == 0.0 and rows[2]["E_bar_path"] == 0.0
    later = tracked_pair_metrics(snaps_a, snaps_b, QS, from_step=4)
    assert [r["step"] for r in later] == [4, 8] and all(math.isnan(r["E_bar_path"]) for r in later)


def test_tracked_metrics_map_the_first_model():
    maps = weight_maps({n: {"name": "htge", "k0": 5.5} for n in QS}, QS)
    snaps = {"steps": [3], "weights": {n: [WA[n]] for n in QS}}
    mapped = {"steps": [3], "weights": {n: [maps[n](WA[n].double()).float()] for n in QS}}
    (row,) = tracked_pair_metrics(snaps, mapped, QS, maps)
    assert row["E_bar_m"] < 1e-4 and row["agreement"] == 100.0
    (plain,) = tracked_pair_metrics(snaps, mapped, QS)
    assert plain["E_bar_m"] > 1.0


def test_weight_maps_are_the_estimators_maps_on_each_layer():
    maps = weight_maps({"a": {"name": "htge", "k0": 5.5}, "b": "ste"}, QS)
    assert maps["a"].alpha == pytest.approx(0.609523294517, abs=1e-11)  # t = 11/3 (tests/test_numbers.py)
    assert maps["b"].alpha == 1.0 and maps["a"].quantizer is QS["a"] and maps["b"].estimator.name == "ste"


def test_final_metrics_in_percent_and_their_errors():
    history = [{"train_acc": 0.1, "train_loss": 9.0, "val_acc": 0.1, "val_loss": 9.0, "epoch": 0},
               {"train_acc": 0.5, "train_loss": 2.0, "val_acc": 0.4, "val_loss": 2.5, "epoch": 0},
               {"train_acc": 0.9, "train_loss": "0.3", "val_acc": 0.8, "val_loss": 0.35, "epoch": 1}]
    last = final_metrics(history)
    assert last == {"train_acc": 0.9, "train_loss": 0.3, "val_acc": 0.8, "val_loss": 0.35}
    assert in_percent(last) == pytest.approx({"train_acc": 90.0, "train_loss": 0.3, "val_acc": 80.0, "val_loss": 0.35})
    with pytest.raises(ValueError, match=r"^run has no evaluated epoch \(history is empty\)$"):
        final_metrics([])


def test_loglog_slope_from_two_points_and_integers():
    assert loglog_slope([1, 10], [3, 300]) == pytest.approx((2.0, math.log10(3)))
    assert loglog_slope(np.array([2, 4, 8]), [1, 2, 4]) == pytest.approx((1.0, -math.log10(2)))
    with pytest.raises(ValueError, match=r"^a log-log fit needs at least two points$"):
        loglog_slope([1.0], [2.0])


def test_path_length_sums_in_float64():
    """Many small float32 steps: the float64 sum is exact to rounding, a float32 sum would not be."""
    lin = nn.Linear(100_000, 1, bias=False)
    quantize_parameters(lin, ["weight"], 2)
    layers = quantized_layers(lin)
    w = layers["weight"][0]
    m = layers["weight"][1].quantizer.m
    with torch.no_grad():
        w.zero_()
    path = PathLength(layers)
    assert path.total == 0.0 and path.state() == {"total": 0.0, "steps": [], "values": []}
    step = torch.full_like(w, 1e-4)
    path.before_step()
    with torch.no_grad():
        w.add_(step)
    path.after_step()
    expected = float(step.double().sum()) / m  # the float32 steps, summed in float64
    assert path.total == pytest.approx(expected, rel=1e-12)
    path.mark(1)
    path.mark(1)
    assert path.state()["steps"] == [1]
    empty = PathLength({})  # a model without quantized layers: a zero path on the CPU
    empty.before_step()
    empty.after_step()
    assert empty.total == 0.0
