"""`stelab theory …` commands on a tiny spec: outputs, gap tables, errors naming the key."""

import json

import numpy as np
import pandas as pd
import pytest

from stelab.cli import main

THEORY = {
    "model": {"weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0},
              "input_map": {"kind": "quantizer", "bits": 2, "omega": 2.0}, "eta": 0.1},
    "pde": {"dx": 0.02, "dt": 0.1},
    "sim": {"d": 100, "seeds": [0, 1]},
    "n_times": 10,
    "experiments": {
        "density": {"tau_max": 2.0, "snapshot_taus": [1.0, 2.0], "solvers": ["pde", "closure"]},
        "plateau": {"tau_max": 6.0, "omegas": [1.5],
                    "model": {"init": {"std": 0.1}, "input_map": {"kind": "identity"}}},
        "fixed_points": {"bits": [2], "omegas": [2.0], "etas": [0.1], "check": {"tau_max": 5, "cases": {"both": {}}}},
        "stability": {"etas": [0.5], "tau_max": 1.0, "sim": {"d": 50, "seeds": [0]}},
    },
}


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["theory", "--help"])
    out = capsys.readouterr().out
    for sub in ("simulate", "solve", "compare", "fixed-point", "sweep"):
        assert sub in out


def test_simulate_solve_compare(tmp_path):
    spec = json.dumps(THEORY)
    for exp in ("density", "plateau"):
        case = "main" if exp == "density" else "w1.5"
        assert main(["theory", "simulate", "--spec", spec, "--experiment", exp, "--case", case,
                     "--out", str(tmp_path / f"{exp}_sim.npz")]) == 0
        assert main(["theory", "solve", "--spec", spec, "--experiment", exp, "--case", case,
                     "--out", str(tmp_path / f"{exp}_th.npz")]) == 0
    with np.load(tmp_path / "density_th.npz") as z:
        assert float(z["pde_mass_drift"]) < 1e-10 and "closure_eps" in z.files
    assert main(["theory", "compare", "--spec", spec, "--experiment", "density",
                 "--sim", str(tmp_path / "density_sim.npz"),
                 "--theory", str(tmp_path / "density_th.npz"), "--curves", str(tmp_path / "c.tsv"),
                 "--gaps", str(tmp_path / "g.tsv")]) == 0
    gaps = pd.read_csv(tmp_path / "g.tsv", sep="\t")
    assert {"max_abs_diff", "mean_abs_diff", "ks"} <= set(gaps.columns)
    assert set(gaps["theory"]) >= {"pde", "closure"}
    assert gaps.loc[gaps["theory"] == "pde", "ks"].notna().sum() == 2  # one KS distance per snapshot τ
    assert gaps.loc[gaps["theory"] == "stationary", "ks"].notna().sum() == 1  # last snapshot vs μ*
    assert main(["theory", "compare", "--spec", spec, "--experiment", "plateau",
                 "--sim", str(tmp_path / "plateau_sim.npz"),
                 "--theory", str(tmp_path / "plateau_th.npz"), "--curves", str(tmp_path / "pc.tsv"),
                 "--gaps", str(tmp_path / "pg.tsv"), "--extra", str(tmp_path / "pt.tsv")]) == 0
    pt = pd.read_csv(tmp_path / "pt.tsv", sep="\t")
    assert pt["tau_p_formula"].iloc[0] == pytest.approx(20.0)


def test_simulate_and_solve_outputs_are_byte_identical_when_rerun(tmp_path):
    """No wall-clock time or other run-dependent value in the .npz files (their bytes identify a result)."""
    spec = json.dumps(THEORY)
    for sub in ("simulate", "solve"):
        for run in ("a", "b"):
            assert main(["theory", sub, "--spec", spec, "--experiment", "density", "--case", "main",
                         "--out", str(tmp_path / f"{sub}_{run}.npz")]) == 0
        assert (tmp_path / f"{sub}_a.npz").read_bytes() == (tmp_path / f"{sub}_b.npz").read_bytes(), sub


def test_fixed_point_and_sweep(tmp_path):
    spec = json.dumps(THEORY)
    assert main(["theory", "fixed-point", "--spec", spec, "--out", str(tmp_path / "fp.tsv"),
                 "--checks", str(tmp_path / "ck.tsv")]) == 0
    fp = pd.read_csv(tmp_path / "fp.tsv", sep="\t")
    assert {"eps_star", "eps_star_0", "deviation", "small_noise"} <= set(fp.columns)
    assert main(["theory", "sweep", "--spec", spec, "--out", str(tmp_path / "st.tsv")]) == 0
    st = pd.read_csv(tmp_path / "st.tsv", sep="\t")
    assert set(st["model"]) == {"quantized", "unquantized"}


def test_unknown_case_names_the_key(capsys):
    rc = main(["theory", "simulate", "--spec", json.dumps(THEORY), "--experiment", "density", "--case", "nope",
               "--out", "x.npz"])
    assert rc == 2
    assert "theory.experiments.density" in capsys.readouterr().err
