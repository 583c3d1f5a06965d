"""Paper A's printed numbers, typed a second time from the paper's text, against the code's copies.

Source: /work/shared/seeds/custom-estimators-are-ste-in-disguise.txt (arXiv 2405.05171), read for
these tests: §6.1 (settings), §6.3 Tables 3–5 (MNIST columns), App. H. The values below were typed
from that text, not from ``stelab``; the code keeps its own copies in ``stelab.qat.paper_values``
(every QAT table and the landing page) and ``stelab.constants.paper_values`` (App. H). A typo on
either side fails here. The ResNet-50 columns of Tables 4–5 are not held by the code.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from helpers import REPO
from stelab.constants import paper_values as cpv
from stelab.qat import paper_values as pv
from stelab.qat.claims import claims

# Table 4, MNIST (left half): Experiment Name, Ē, Quantized Weight Agreement.
TABLE4 = """
baseline (S)   0.515%  98.31%
lr-tweak (S)   0.572%  98.66%
unadjusted (S) 2.52%   96.53%
baseline (A)   2.81%   94.42%
lr-tweak (A)   1.74%   95.4%
"""

# Table 3: Ē for SGD + momentum (repeats Table 4's (S) rows).
TABLE3 = {"baseline": 0.515, "lr-tweak": 0.572, "unadjusted": 2.52}

# Table 5, MNIST (left half): Train acc, Train loss, Val acc, Val loss.
TABLE5 = """
STE (S)   97.05%  0.1439  97.08%  0.1417
Q̂ (S)    96.98%  0.1483  97.14%  0.1468
Diff (S)  -0.06%  0.0044  0.06%   0.0051
STE (A)   97.56%  0.1270  97.66%  0.1257
Q̂ (A)    97.63%  0.1254  97.58%  0.1245
Diff (A)  0.07%   -0.0016 -0.08%  -0.0013
"""

# App. H: L′L+/2L−² for Pei et al.'s k = 8, 6, 4, 2 at 8, 4, 3, 2 bits; DSQ α ∈ [0.11, 0.25] → [1.71, 4.28].
APP_H = "0.25 (8 bits), 2.66 (4 bits), 2.82 (3 bits), 1.77 (2 bits)"
PEI_K = {8: 8, 4: 6, 3: 4, 2: 2}
DSQ_RANGE = ((0.11, 0.25), (1.71, 4.28))

PAIR = {"baseline": "baseline", "lr-tweak": "lrtweak", "unadjusted": "unadjusted"}
OPT = {"S": "momentum", "A": "adam"}
NET = {"STE": "ste", "Q̂": "qhat", "Diff": "diff"}


def _table4():
    out = {}
    for line in TABLE4.strip().splitlines():
        name, opt, e_bar, agreement = line.replace("(", " ").replace(")", " ").split()
        out[(OPT[opt], PAIR[name])] = {"E_bar": float(e_bar.rstrip("%")), "agreement": float(agreement.rstrip("%"))}
    return out


def _table5():
    out = {}
    for line in TABLE5.strip().splitlines():
        net, opt, *vals = line.replace("(", " ").replace(")", " ").split()
        keys = ("train_acc", "train_loss", "val_acc", "val_loss")
        out[(OPT[opt], NET[net])] = {k: float(v.rstrip("%")) for k, v in zip(keys, vals)}
    return out


def test_table4_mnist_as_printed():
    assert pv.TABLE4_MNIST == _table4()


def test_table3_repeats_table4_sgd_as_printed():
    for name, e_bar in TABLE3.items():
        assert pv.TABLE4_MNIST[("momentum", PAIR[name])]["E_bar"] == e_bar


def test_table3_descriptions_and_interpretations_as_printed():
    assert pv.TABLE3_TEXT["baseline"] == ("Q̂ vs. STE", "Baseline")
    assert pv.TABLE3_TEXT["lrtweak"][0] == "Q̂ vs. Q̂ with 1% learning rate increase"
    assert pv.TABLE3_TEXT["lrtweak"][1] == ("Replacing STE-net with Q̂-net is about as impactful as a small change "
                                            "to η (A).")
    assert pv.TABLE3_TEXT["unadjusted"] == (
        "Q̂ vs. STE without reinitializing weights",
        "The two models only see the same weight movement if weights are re-initialized according to M (B).")


def test_table5_mnist_as_printed():
    assert pv.TABLE5_MNIST == _table5()


def test_table5_diff_rows_are_q_hat_minus_ste_to_the_printed_rounding():
    """The paper's Diff rows are Q̂ − STE of unrounded values: within one unit of the last printed digit."""
    t5 = _table5()
    for opt in ("momentum", "adam"):
        for key, unit in (("train_acc", 0.01), ("train_loss", 0.0001), ("val_acc", 0.01), ("val_loss", 0.0001)):
            diff = t5[(opt, "qhat")][key] - t5[(opt, "ste")][key]
            assert abs(diff - t5[(opt, "diff")][key]) <= unit + 1e-12, (opt, key)
            assert math.copysign(1, diff) == math.copysign(1, t5[(opt, "diff")][key]) or abs(diff) < unit


def test_paper_settings_the_tables_depend_on():
    """§6.1: two-bit weights; SGD with momentum 0.9 at lr 0.001, Adam β = (0.9, 0.95) at lr 0.0001; warm-up 2 %;
    HTGE; lr-tweak = a 1 % learning-rate increase (§6.3)."""
    from stelab.qat.settings import LR_TWEAK

    assert pv.PAPER_BITS == 2
    assert LR_TWEAK == 1.01
    assert pv.OPTIMIZER_LABEL["momentum"] == "S" and pv.OPTIMIZER_LABEL["adam"] == "A"
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["qat"]
    assert cfg["quantize"]["bits"] == 2
    assert cfg["optimizers"]["momentum"] == {"lr": 0.001, "momentum": 0.9}
    assert cfg["optimizers"]["adam"] == {"lr": 0.0001, "betas": [0.9, 0.95]}
    assert cfg["warmup_frac"] == 0.02 and cfg["lr_tweak"] == 1.01
    assert cfg["estimator"]["name"] == "htge"


def test_app_h_as_printed():
    printed = {int(b): float(v) for v, b in (part.replace("(", "").replace(" bits)", "").split()
                                             for part in APP_H.split(", "))}
    assert cpv.APP_H_HTGE == {(b, PEI_K[b]): v for b, v in printed.items()}
    (a_lo, a_hi), (c_lo, c_hi) = DSQ_RANGE
    assert cpv.APP_H_DSQ == {a_hi: c_lo, a_lo: c_hi}  # the bound falls as α_dsq grows


def test_app_h_dsq_range_follows_its_own_formula():
    """App. H: L′L+/L−² ≤ (1 − α)/(2α − α²); at α = 0.25 and 0.11 that is the printed [1.71, 4.28]."""
    (a_lo, a_hi), (c_lo, c_hi) = DSQ_RANGE
    assert round((1 - a_hi) / (2 * a_hi - a_hi**2), 2) == c_lo
    assert round((1 - a_lo) / (2 * a_lo - a_lo**2), 2) == c_hi


def test_claims_ratios_of_the_papers_numbers():
    """Claim A (baseline ≈ lr-tweak) and claim B (unadjusted ≫ baseline) on the printed Table 4: the ratios
    0.515/0.572, 2.81/1.74 and 2.52/0.515, and both claims hold under the workflow's rule."""
    t4 = pd.DataFrame([{"bits": 2, "optimizer": o, "pair": p, "E_bar_mean": v["E_bar"]}
                       for (o, p), v in _table4().items()])
    got = claims(t4).set_index("optimizer")
    assert got.loc["momentum", "ratio_baseline_to_lrtweak"] == pytest.approx(0.515 / 0.572, rel=1e-12)
    assert got.loc["momentum", "ratio_baseline_to_lrtweak"] == pytest.approx(0.9003, abs=5e-5)
    assert got.loc["adam", "ratio_baseline_to_lrtweak"] == pytest.approx(1.6149, abs=5e-5)
    assert got.loc["momentum", "ratio_unadjusted_to_baseline"] == pytest.approx(4.8932, abs=5e-5)
    assert bool(got.loc["momentum", "claim_A"]) and bool(got.loc["adam", "claim_A"])
    assert bool(got.loc["momentum", "claim_B"])
    assert math.isnan(got.loc["adam"].get("ratio_unadjusted_to_baseline", math.nan))
