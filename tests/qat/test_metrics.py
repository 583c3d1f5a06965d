"""Alignment metrics (paper A §6.2) and the report tables built from them."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from stelab.equivalence import WeightMap
from stelab.qat import claims as qc
from stelab.qat import tables as qt
from stelab.qat.metrics import (alignment_error, final_metrics, loglog_slope, metric_differences, pair_metrics,
                                tracked_pair_metrics, uses_weight_map)
from stelab.quantizers import UniformQuantizer


def test_alignment_error_is_normalised_by_the_range_length():
    q = UniformQuantizer(2, 0.5)  # range [−0.5, 0.5], length 1
    e = alignment_error(torch.tensor([0.3, -0.2]), torch.tensor([0.1, -0.2]), q)
    assert torch.allclose(e, torch.tensor([0.2, 0.0], dtype=torch.float64))


def test_pair_metrics_by_hand():
    # m = 1: levels ±1/3, ±1, thresholds 0, ±2/3; m = 2: levels ±2/3, ±2, thresholds 0, ±4/3
    qa, qb = UniformQuantizer(2, 1.0), UniformQuantizer(2, 2.0)
    wa = {"a": torch.tensor([0.1, 0.5]), "b": torch.tensor([1.0, -1.0, 0.2])}
    wb = {"a": torch.tensor([0.3, 0.9]), "b": torch.tensor([1.0, -1.8, 0.3])}
    out = pair_metrics(wa, wb, {"a": qa, "b": qb})
    # |Δ|/(2m): a: 0.2/2, 0.4/2; b: 0, 0.8/4, 0.1/4
    assert out["E_bar"] == pytest.approx(100 * (0.1 + 0.2 + 0 + 0.2 + 0.025) / 5)
    # same level: a: (1/3, 1/3) yes, (1/3, 1) no; b: (2/3, 2/3) yes, (−2/3, −2) no, (2/3, 2/3) yes
    assert out["agreement"] == pytest.approx(60.0)
    assert out["n_weights"] == 5


def test_weight_map_applies_to_the_first_model_only():
    q = UniformQuantizer(2, 1.0)
    wm = WeightMap({"name": "htge", "k0": 5.5}, q)
    w = torch.linspace(-0.9, 0.9, 7)
    same = pair_metrics({"x": w}, {"x": wm(w.double()).float()}, {"x": q}, {"x": wm})
    assert same["E_bar"] < 1e-5 and same["agreement"] == 100.0
    assert uses_weight_map("baseline", "momentum") and uses_weight_map("baseline", "sgd")
    assert not uses_weight_map("baseline", "adam") and not uses_weight_map("lrtweak", "momentum")


def test_tracking_pairs_steps_after_the_fork():
    q = UniformQuantizer(2, 1.0)
    a = {"steps": [0, 5, 10], "weights": {"x": [torch.zeros(4), torch.zeros(4), torch.zeros(4)]}}
    b = {"steps": [5, 10], "weights": {"x": [torch.full((4,), 0.2), torch.full((4,), 0.4)]}}
    rows = tracked_pair_metrics(a, b, {"x": q}, from_step=5)
    assert [r["step"] for r in rows] == [5, 10]
    assert [r["E_bar"] for r in rows] == pytest.approx([10.0, 20.0])


def test_table5_sign_convention_matches_the_paper():
    ste = {"train_acc": 97.05, "train_loss": 0.1439, "val_acc": 97.08, "val_loss": 0.1417}
    qhat = {"train_acc": 96.98, "train_loss": 0.1483, "val_acc": 97.14, "val_loss": 0.1468}
    d = metric_differences(qhat=qhat, other=ste)  # paper Table 5 (S): Diff 0.0044 train loss, 0.06 % val acc
    assert d["train_loss"] == pytest.approx(0.0044) and d["val_acc"] == pytest.approx(0.06)
    with pytest.raises(ValueError, match="history is empty"):
        final_metrics([])


def test_loglog_slope():
    x = np.array([0.25, 0.5, 1, 2, 4])
    slope, intercept = loglog_slope(x, 3 * x**2)
    assert slope == pytest.approx(2.0) and intercept == pytest.approx(math.log10(3))


def _pairs():
    rows = []
    for seed, (b, t, u) in enumerate([(0.5, 0.6, 2.0), (0.7, 0.8, 3.0), (0.6, 0.7, 2.5)]):
        for pair, e in (("baseline", b), ("lrtweak", t), ("unadjusted", u)):
            rows.append({"bits": 2, "optimizer": "momentum", "sweep_factor": 1.0, "seed": seed, "pair": pair, "E_bar": e,
                         "agreement": 100 - e, "diff_train_acc": 0.1 * seed, "diff_train_loss": 0.0,
                         "diff_val_acc": 0.0, "diff_val_loss": 0.0})
        for f in (0.5, 2.0):
            rows.append({"bits": 2, "optimizer": "momentum", "sweep_factor": f, "seed": seed, "pair": "baseline",
                         "E_bar": b * f**2, "agreement": 99.0})
    return pd.DataFrame(rows).assign(diverged=False)


def test_tables_mean_sd_and_paper_columns():
    pairs = _pairs()
    t4 = qt.table4(pairs)
    base = t4[t4["pair"] == "baseline"].iloc[0]
    assert base["E_bar_mean"] == pytest.approx(0.6) and base["E_bar_sd"] == pytest.approx(0.1)
    assert base["E_bar_paper"] == 0.515 and base["agreement_paper"] == 98.31
    assert list(t4["pair"]) == ["baseline", "lrtweak", "unadjusted"] and base["n_seeds"] == 3
    t3 = qt.table3(pairs)
    assert t3.loc[t3["pair"] == "unadjusted", "ratio_to_baseline"].iloc[0] == pytest.approx(2.5 / 0.6)
    sweep, fits = qt.lr_sweep(pairs)
    assert list(sweep["sweep_factor"]) == [0.5, 1.0, 2.0]
    assert fits["momentum"]["slope"] == pytest.approx(2.0)
    runs = pd.DataFrame([{"bits": 2, "optimizer": "momentum", "sweep_factor": 1.0, "seed": s, "variant": v,
                          "diverged": False, "train_acc": 90.0 + s, "train_loss": 0.3, "val_acc": 91.0,
                          "val_loss": 0.3}
                         for s in range(3) for v in ("qhat", "ste")])
    t5 = qt.table5(runs, pairs)
    assert list(t5["row"]) == ["STE (S)", "Q̂ (S)", "Diff (S)"]
    assert t5.loc[0, "train_acc_mean"] == pytest.approx(91.0) and t5.loc[0, "train_acc_paper"] == 97.05
    assert t5.loc[2, "train_acc_mean"] == pytest.approx(0.1)
    assert t4.loc[0, "E_bar_m_mean"] == pytest.approx(1.2) and t4.loc[0, "E_bar_m_sd"] == pytest.approx(0.2)
    claims = qc.claims(t4).iloc[0]
    assert claims["claim_A"] and claims["claim_B"]
    assert claims["ratio_baseline_to_lrtweak"] == pytest.approx(0.6 / 0.7)


def test_other_bit_widths_get_no_paper_values():
    pairs = _pairs()
    four = pairs[pairs["sweep_factor"] == 1.0].assign(bits=4)
    t4 = qt.table4(pd.concat([pairs, four]))
    assert list(t4["bits"]) == [2, 2, 2, 4, 4, 4]
    assert t4["experiment"].iloc[3] == "baseline (S), 4 bit"
    assert t4["E_bar_paper"].iloc[0] == 0.515 and np.isnan(t4["E_bar_paper"].iloc[3])
