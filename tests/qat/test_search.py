"""The search table: finished points beside paper A's Tables 4–5 (arXiv 2405.05171, §6.3)."""

import json

import pandas as pd
import pytest

from stelab.qat.search import load_point, main, search_table

KEY = {"bits": 2, "sweep_factor": 1.0, "seed": 0}


def _point(e_bar, e_path, agree, ste_acc, ste_loss):
    pairs = pd.DataFrame([{**KEY, "optimizer": "momentum", "pair": "baseline", "E_bar": e_bar, "E_bar_path": e_path,
                           "agreement": agree},
                          {**KEY, "optimizer": "adam", "pair": "baseline", "E_bar": 1.0, "E_bar_path": 2.0,
                           "agreement": 95.0}])
    runs = pd.DataFrame([{**KEY, "optimizer": o, "variant": v, "train_acc": acc, "train_loss": loss,
                          "val_acc": 0.0, "val_loss": 0.0}
                         for o in ("momentum", "adam")
                         for v, acc, loss in (("ste", ste_acc, ste_loss), ("qhat", 97.0, 0.15))])
    return runs, pairs


def test_distances_to_the_paper_are_relative_for_e_bar_and_absolute_otherwise():
    t = search_table({"a": _point(0.2575, 1.03, 99.31, 99.05, 0.0439), "b": _point(0.515, 0.515, 98.31, 97.05, 0.1439)})
    assert list(t["point"]) == ["a", "a", "b", "b"] and list(t["optimizer"]) == ["momentum", "adam"] * 2
    a = t.iloc[0]  # paper (S): Ē 0.515 %, agreement 98.31 %, STE train acc 97.05 %, loss 0.1439
    assert a["E_bar_rel_to_paper"] == pytest.approx(-0.5)
    assert a["E_bar_path_rel_to_paper"] == pytest.approx(1.0)
    assert a["agreement_minus_paper"] == pytest.approx(1.0)
    assert a["ste_train_acc_minus_paper"] == pytest.approx(2.0)
    assert a["ste_train_loss_minus_paper"] == pytest.approx(-0.1)
    assert a["qhat_train_acc_minus_paper"] == pytest.approx(0.02)  # paper Q̂ (S): 96.98 %
    assert a["qhat_train_loss_minus_paper"] == pytest.approx(0.0017)  # paper: 0.1483
    adam = t.iloc[1]  # paper (A): Ē 2.81 %, agreement 94.42 %
    assert adam["E_bar_rel_to_paper"] == pytest.approx((1.0 - 2.81) / 2.81)
    assert adam["agreement_minus_paper"] == pytest.approx(0.58)
    assert t.iloc[2]["E_bar_rel_to_paper"] == 0.0 and t.iloc[2]["ste_train_acc_minus_paper"] == pytest.approx(0.0)


def test_a_point_with_two_seeds_is_refused():
    runs, pairs = _point(0.3, 0.3, 99.0, 98.0, 0.1)
    with pytest.raises(ValueError, match="expected one row for the momentum baseline pair"):
        search_table({"x": (runs, pd.concat([pairs, pairs]))})


def test_cli_reads_points_and_writes_the_table(tmp_path):
    runs, pairs = _point(0.3, 0.6, 99.0, 98.0, 0.1)
    folder = tmp_path / "p1"
    (folder / "results" / "qat").mkdir(parents=True)
    runs.to_csv(folder / "results" / "qat" / "runs.tsv", sep="\t", index=False)
    pairs.to_csv(folder / "results" / "qat" / "pairs.tsv", sep="\t", index=False)
    (folder / "provenance.json").write_text(json.dumps({"commit": "0123456789abcdef", "wall_s": 600}))
    assert main([str(folder), "--out", str(tmp_path / "search.csv")]) == 0
    t = pd.read_csv(tmp_path / "search.csv")
    assert list(t["point"]) == ["p1", "p1"] and list(t["commit"]) == ["0123456789ab"] * 2
    assert list(t["point_wall_min"]) == [10.0, 10.0] and t.loc[0, "E_bar_path"] == 0.6
    with pytest.raises(FileNotFoundError, match="point not finished"):
        load_point(tmp_path / "missing")
