"""Ablation points against the record, seed by seed (stelab.qat.ablation); expected values by hand
(t₀.₉₇₅ with 2 degrees of freedom = 4.30265273 from a table)."""

import math

import pandas as pd
import pytest

from stelab.qat.ablation import ablation_table


def _pairs(rows):
    return pd.DataFrame([{"bits": 2, "sweep_factor": 1.0, "pair": pair, "diverged": False, "optimizer": o,
                          "seed": s, "E_bar_m": e, "agreement": 97.0 + s} for o, s, e, pair in rows])


RECORD = _pairs([("momentum", 0, 0.8, "baseline"), ("momentum", 1, 0.8, "baseline"), ("momentum", 2, 0.88, "baseline"),
                 ("momentum", 3, 5.0, "baseline"), ("momentum", 0, 9.0, "unadjusted"),
                 ("adam", 0, 1.0, "baseline"), ("adam", 1, 1.0, "baseline")])


def test_per_seed_ratio_interval_and_reading():
    point = _pairs([("momentum", 0, 0.2, "baseline"), ("momentum", 1, 0.22, "baseline"),
                    ("momentum", 2, 0.2, "baseline"), ("adam", 0, 1.0, "baseline"), ("adam", 1, 1.1, "baseline")])
    t = ablation_table({"paper-no-wd": point}, RECORD).set_index("optimizer")
    m = t.loc["momentum"]
    # ratios 0.25, 0.275, 0.2̅27̅: logs ln 0.25 ± ln 1.1, so the geometric mean is 0.25, sd(log) = ln 1.1
    half = 4.30265273 * math.log(1.1) / math.sqrt(3)
    assert m["ratio"] == pytest.approx(0.25)
    assert m["ratio_lo"] == pytest.approx(0.25 * math.exp(-half)) and m["ratio_hi"] == pytest.approx(0.25 * math.exp(half))
    assert m["n_seeds"] == 3 and m["seeds"] == "0 1 2"
    assert m["E_bar_m_mean"] == pytest.approx(0.62 / 3) and m["E_bar_m_record_mean"] == pytest.approx(2.48 / 3)
    assert m["agreement_mean"] == pytest.approx(98.0) and m["reading"] == "the extra raises Ē: 4.00× with it"
    a = t.loc["adam"]
    assert a["ratio"] == pytest.approx(math.sqrt(1.1)) and a["reading"] == "no effect shown (the interval contains 1)"


def test_a_seed_the_record_lacks_is_named():
    point = _pairs([("adam", 0, 1.0, "baseline"), ("adam", 4, 1.0, "baseline")])
    with pytest.raises(ValueError, match=r"paper-no-bias: the record has no adam baseline pair for seed\(s\) \[4\]"):
        ablation_table({"paper-no-bias": point}, RECORD)


def test_one_seed_gives_no_interval():
    point = _pairs([("momentum", 3, 10.0, "baseline")])
    row = ablation_table({"p": point}, RECORD).iloc[0]
    assert row["ratio"] == pytest.approx(2.0) and math.isnan(row["ratio_lo"]) and row["reading"] == "no interval (one seed)"
