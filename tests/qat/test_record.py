"""The record over seeds: claims with t-intervals, Table 5 differences, slice packing and assembly.

Expected values are worked out by hand here (Student t quantiles from a table: t₀.₉₇₅ with 1, 2, 4
degrees of freedom = 12.7062047, 4.30265273, 2.77644511), never by the code under test.
"""

import math

import numpy as np
import pandas as pd
import pytest

from stelab.cli import main
from stelab.qat import claims as qc
from stelab.qat.record import assemble_record, load_record, tracking_over_seeds
from stelab.qat.record_slice import checkpoint_sums, scatter_table

from helpers import record_pairs as _pairs
from helpers import record_slice as _slice

T975 = {1: 12.7062047, 2: 4.30265273, 4: 2.77644511}


def test_ratio_interval_is_the_t_interval_of_the_log_ratio():
    r = [1.0, 2.0, 4.0]  # logs: 0, ln2, 2 ln2 → mean ln2, sd ln2
    got = qc.ratio_interval(r)
    half = T975[2] * math.log(2) / math.sqrt(3)
    assert got["ratio"] == pytest.approx(2.0)
    assert got["ratio_lo"] == pytest.approx(math.exp(math.log(2) - half), rel=1e-7)
    assert got["ratio_hi"] == pytest.approx(math.exp(math.log(2) + half), rel=1e-7)
    assert got["n_seeds"] == 3


def test_one_seed_has_no_interval_and_no_verdict():
    got = qc.ratio_interval([1.3])
    assert got["ratio"] == pytest.approx(1.3) and math.isnan(got["ratio_lo"]) and math.isnan(got["ratio_hi"])
    assert qc.verdict("A", got) == "1 seed"


@pytest.mark.parametrize("claim, lo, hi, expected", [
    ("A", 0.8, 1.3, "holds"), ("A", 0.4, 1.3, "undecided"), ("A", 2.5, 3.0, "fails"), ("A", 0.1, 0.3, "fails"),
    ("B", 2.0, 9.0, "holds"), ("B", 1.5, 9.0, "undecided"), ("B", 1.1, 1.9, "fails")])
def test_verdict_rules(claim, lo, hi, expected):
    assert qc.verdict(claim, {"n_seeds": 5, "ratio_lo": lo, "ratio_hi": hi}) == expected


def test_claims_over_seeds_pairs_ratios_within_a_seed():
    # seed k: baseline 1, lrtweak 1 (ratio 1) for seeds 0 and 1; unadjusted 4 and 5 → B ratios 4 and 5
    pairs = pd.concat([_pairs(0, {"baseline": 1.0, "lrtweak": 1.0, "unadjusted": 4.0}),
                       _pairs(1, {"baseline": 2.0, "lrtweak": 2.0, "unadjusted": 10.0})])
    c = qc.claims_over_seeds(pairs).set_index(["optimizer", "claim"])
    a = c.loc[("momentum", "A")]
    assert a["ratio"] == pytest.approx(1.0) and a["ratio_lo"] == pytest.approx(1.0) and a["verdict"] == "holds"
    b = c.loc[("momentum", "B")]
    g = math.sqrt(20.0)  # geometric mean of 4 and 5
    half = T975[1] * (math.log(5) - math.log(4)) / math.sqrt(2) / math.sqrt(2)  # sd of two logs = |Δ|/√2
    assert b["ratio"] == pytest.approx(g)
    assert b["ratio_lo"] == pytest.approx(g * math.exp(-half), rel=1e-7)
    assert b["verdict"] == "undecided"  # the interval with 1 degree of freedom reaches below 2
    assert c.loc[("adam", "B"), "verdict"] == "not applicable (Adam needs no M)"
    assert "within [1/2, 2]" in c.loc[("adam", "A"), "rule"]


def test_claims_leave_out_diverged_seeds():
    pairs = pd.concat([_pairs(0, {"baseline": 1.0, "lrtweak": 1.0, "unadjusted": 4.0}),
                       _pairs(1, {"baseline": 1.0, "lrtweak": 9.0, "unadjusted": 4.0}, diverged=True)])
    a = qc.claims_over_seeds(pairs).set_index(["optimizer", "claim"]).loc[("momentum", "A")]
    assert a["n_seeds"] == 1 and a["ratio"] == pytest.approx(1.0)


def test_table5_differences_interval():
    pairs = pd.concat([_pairs(s, {"baseline": 1.0, "lrtweak": 1.0, "unadjusted": 4.0}) for s in range(5)])
    d = qc.table5_differences(pairs).set_index("optimizer").loc["momentum"]
    # diff_train_acc over seeds: 0.1 … 0.5 → mean 0.3, sd sqrt(0.025)
    half = T975[4] * math.sqrt(0.025) / math.sqrt(5)
    assert d["train_acc_diff"] == pytest.approx(0.3)
    assert d["train_acc_diff_lo"] == pytest.approx(0.3 - half, rel=1e-7)
    assert d["train_acc_diff_hi"] == pytest.approx(0.3 + half, rel=1e-7)
    assert d["n_seeds"] == 5


def test_assemble_record_means_over_slices(tmp_path):
    for seed, base in ((0, 0.2), (1, 0.4)):
        _slice(tmp_path, 2, seed, {"baseline": base, "lrtweak": base, "unadjusted": 5 * base})
    assert main(["record-tables", "--record", str(tmp_path)]) == 0
    t4 = pd.read_csv(tmp_path / "tables" / "qat_table4.csv")
    row = t4[(t4["optimizer"] == "momentum") & (t4["pair"] == "baseline")].iloc[0]
    assert row["E_bar_mean"] == pytest.approx(0.3) and row["E_bar_sd"] == pytest.approx(math.sqrt(0.02))
    assert row["E_bar_m_mean"] == pytest.approx(0.6) and row["n_seeds"] == 2
    assert row["E_bar_m_over_paper"] == pytest.approx(0.6 / 0.515)  # the paper's printed 0.515
    slices = pd.read_csv(tmp_path / "tables" / "slices.csv")
    assert list(slices["slice"]) == ["b2-seed0", "b2-seed1"] and list(slices["job_wall_s_sum"]) == [90.5, 90.5]
    claims = pd.read_csv(tmp_path / "tables" / "claims.csv")
    b = claims[(claims["optimizer"] == "momentum") & (claims["claim"] == "B")].iloc[0]
    assert b["ratio"] == pytest.approx(5.0) and b["ratio_lo"] == pytest.approx(5.0)
    for name in ("qat_table3.tex", "qat_table4.tex", "qat_table5.tex", "claims.tex", "table5_diff.csv"):
        assert (tmp_path / "tables" / name).stat().st_size > 0
    for fig in ("tracking", "scatter"):
        assert (tmp_path / "figures" / f"{fig}.pdf").read_bytes()[:4] == b"%PDF"


def test_tracking_over_seeds_mean_and_sd():
    t = pd.DataFrame([{"bits": 2, "optimizer": "adam", "pair": "baseline", "step": 5, "E_bar": v, "agreement": 99.0}
                      for v in (1.0, 3.0)])
    got = tracking_over_seeds(t).iloc[0]
    assert got["E_bar_mean"] == 2.0 and got["E_bar_sd"] == pytest.approx(math.sqrt(2)) and got["n_seeds"] == 2


def test_a_slice_with_rows_of_another_seed_is_refused(tmp_path):
    d = _slice(tmp_path, 2, 0, {"baseline": 1.0, "lrtweak": 1.0, "unadjusted": 3.0})
    d.rename(tmp_path / "b2-seed3")
    with pytest.raises(ValueError, match=r"b2-seed3.*seeds \[0\]"):
        load_record(tmp_path)


def test_an_empty_record_names_the_folder(tmp_path):
    assert main(["record-tables", "--record", str(tmp_path)]) == 2


def test_checkpoint_sums_are_sha256sum_lines(tmp_path):
    (tmp_path / "b2").mkdir()
    (tmp_path / "b2" / "final.pt").write_bytes(b"abc")
    # sha256("abc") from FIPS 180-2, appendix B.1
    assert checkpoint_sums(tmp_path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b2/final.pt\n"


def test_scatter_table_reads_the_compare_arrays(tmp_path):
    np.savez(tmp_path / "s.npz", momentum_adjusted_x=np.array([0.5]), momentum_adjusted_y=np.array([0.25]),
             thresholds=np.array([0.0]))
    t = scatter_table(tmp_path / "s.npz")
    assert t.to_dict("records") == [{"optimizer": "momentum", "pair": "adjusted", "x": 0.5, "y": 0.25}]
