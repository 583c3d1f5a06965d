"""``stelab constants``: every estimator validated before anything is computed, no NaN with exit code 0."""

import json
import math
import re

import pandas as pd
import pytest

from stelab.cli import main


@pytest.mark.parametrize(
    "estimator, message",
    [("user_estimators:nan_inside", r"--estimator user_estimators:nan_inside: .*not finite"),
     ("user_estimators:inf_at_threshold", r"--estimator user_estimators:inf_at_threshold: .*not finite"),
     ("user_estimators:negative_dip", r"--estimator user_estimators:negative_dip: .*negative"),
     ("user_estimators:zero_on_cells", r"--estimator user_estimators:zero_on_cells: .*vanishes"),
     ("mad,s=-1", r"mad: s must be > 0, got -1"),
     ("pwl,lo=1,hi=-1", r"pwl: lo must be < hi, got lo=1, hi=-1"),
     ("sigmoid_sum,temperature=0", r"sigmoid_sum: temperature must be > 0, got 0"),
     ("htge,k0=-1", r"htge: k0 must be > 0, got -1")],
)
def test_a_bad_estimator_stops_the_command_before_any_output(tmp_path, capsys, estimator, message):
    out = tmp_path / "c.json"
    rc = main(["constants", "--estimator", "ste", "--estimator", estimator, "--bits", "2", "--json", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert re.search(message, err), err
    assert not out.exists()


def test_a_nan_constant_stops_the_command(tmp_path, capsys):
    out = tmp_path / "c.tsv"
    rc = main(["constants", "--estimator", "user_estimators:nan_between_grid_points", "--bits", "2", "--tsv", str(out)])
    assert rc == 2
    assert "user_estimators:nan_between_grid_points" in capsys.readouterr().err
    assert not out.exists()


def test_constants_are_written_without_nan(tmp_path):
    """htge at 2 bits: α = t²/(tanh(t/2)(t + sinh t)), t = 11/3 (paper A eq. 4, k0 = 5.5 of §6.1); approx_sign
    at 1 bit: L− = 0, so the coefficient is +inf, written as null in JSON and inf in TSV, never NaN."""
    paths = {"json": tmp_path / "c.json", "tsv": tmp_path / "c.tsv", "curves": tmp_path / "curves.tsv"}
    rc = main(["constants", "--estimator", "htge,k0=5.5", "--estimator", "user_estimators:raised_cosine",
               "--bits", "2", "--json", str(paths["json"]), "--tsv", str(paths["tsv"]),
               "--curves", str(paths["curves"])])
    assert rc == 0
    records = json.loads(paths["json"].read_text())
    t = 11 / 3
    assert records[0]["alpha"] == pytest.approx(t * t / (math.tanh(t / 2) * (t + math.sinh(t))), rel=1e-12)
    assert "NaN" not in paths["json"].read_text()
    curves = pd.read_csv(paths["curves"], sep="\t")
    assert curves["M"].notna().all() and curves["dQhat"].notna().all()
    assert curves.loc[curves["label"] == "user_estimators:raised_cosine", "Qhat"].isna().all()

    binary = tmp_path / "binary.json"
    assert main(["constants", "--estimator", "approx_sign", "--bits", "1", "--json", str(binary)]) == 0
    text = binary.read_text()
    assert "NaN" not in text
    (record,) = json.loads(text)
    assert record["L_minus"] == 0.0 and record["convexity_coeff"] is None and record["alpha"] == 1.0


def test_one_estimator_with_two_parameter_sets_gives_two_rows(tmp_path, capsys):
    out = tmp_path / "c.tsv"
    assert main(["constants", "--estimator", "htge,k0=2", "--estimator", "htge,k0=5", "--bits", "2",
                 "--tsv", str(out)]) == 0
    t = pd.read_csv(out, sep="\t").set_index("label")
    for k0 in (2.0, 5.0):  # t = kΔ = (k0/m)(2m/3) at 2 bits; α = t²/(tanh(t/2)(t + sinh t)), paper A App. H
        t_ = k0 * 2 / 3
        assert t.loc[f"htge,k0={k0}", "alpha"] == pytest.approx(t_ ** 2 / (math.tanh(t_ / 2) * (t_ + math.sinh(t_))),
                                                                  rel=1e-6)
    assert main(["constants", "--estimator", "htge,k0=2", "--estimator", "htge,k0=2", "--bits", "2"]) == 2
    assert "--estimator htge,k0=2.0: given twice" in capsys.readouterr().err
