"""The search table: finished points beside paper A's Tables 4–5 (arXiv 2405.05171, §6.3)."""

import json

import pandas as pd
import pytest
import torch

from stelab.qat.checkpoints import init_checkpoint
from stelab.qat.search import l2_term, load_point, main, search_table
from stelab.qat.settings import make_run

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
    with pytest.raises(FileNotFoundError, match="missing: no such folder"):
        load_point(tmp_path / "missing")
    (tmp_path / "started" / "results" / "qat").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"runs\.tsv does not exist \(point not finished\)"):
        load_point(tmp_path / "started")


def test_keras_loss_adds_the_l2_term_of_each_net():
    runs, pairs = _point(0.3, 0.6, 99.0, 97.0, 0.1)
    l2 = {(o, v): t for o in ("momentum", "adam") for v, t in (("ste", 0.04), ("qhat", 0.05))}
    row = search_table({"p": (runs, pairs, l2)}).iloc[0]
    assert row["ste_train_loss_keras"] == pytest.approx(0.14)  # 0.1 cross-entropy + 0.04
    assert row["ste_train_loss_keras_minus_paper"] == pytest.approx(0.14 - 0.1439)
    assert row["qhat_train_loss_keras"] == pytest.approx(0.20)  # 0.15 + 0.05


def test_l2_term_is_half_the_weight_decay_times_the_squared_norm():
    ckpt = init_checkpoint(make_run("ste", 100, weight_decay=0.5))
    ckpt["model"] = {k: torch.full_like(v, 0.5) for k, v in ckpt["model"].items()}
    n = sum(v.numel() for v in ckpt["model"].values())  # every tensor of this convnet is a parameter
    assert l2_term(ckpt) == pytest.approx(0.25 * 0.25 * n)  # λ/2 = 0.25, w² = 0.25
