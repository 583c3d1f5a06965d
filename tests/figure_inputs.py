"""Small hand-made inputs for every report figure (tests/test_figures.py, tests/test_figure_files.py):
each builder returns the table or arrays its plotting function reads, and FIGURES draws each figure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stelab.constants.plots import plot_estimators, plot_weight_maps
from stelab.qat.plots import plot_lr_sweep, plot_tracking, plot_weight_scatter
from stelab.theory.plots import (
    plot_bridge,
    plot_densities,
    plot_error_curves,
    plot_fixed_points,
    plot_plateau,
    plot_stability,
)


def constants_curves() -> pd.DataFrame:
    w = np.linspace(-1.5, 1.5, 61)
    q = np.clip(np.round(w * 1.5) / 1.5, -1, 1)
    rows = []
    for label, bits, qhat, dq, m, alpha in (
            ("ste", 2, w, np.ones_like(w), w, 1.0),
            ("smooth", 2, np.tanh(w), 1 - np.tanh(w) ** 2, 0.9 * w, 0.8),
            ("no_closed_form", 1, np.full_like(w, np.nan), np.exp(-w**2), np.full_like(w, np.nan), np.nan)):
        rows.append(pd.DataFrame({"label": label, "estimator": label, "bits": bits, "w": w, "Q": q, "Qhat": qhat,
                                  "dQhat": dq, "M": m, "alpha": alpha}))
    return pd.concat(rows, ignore_index=True)


def qat_scatter() -> dict:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 50)
    return {"momentum_adjusted_x": x, "momentum_adjusted_y": x + 0.01, "momentum_unadjusted_x": x,
            "momentum_unadjusted_y": -x, "adam_adjusted_x": x, "adam_adjusted_y": 0.5 * x,
            "thresholds": np.array([-2 / 3, 0.0, 2 / 3])}


def qat_tracking(path_normalised: bool) -> pd.DataFrame:
    rows = []
    for optimizer in ("momentum", "adam"):
        for pair in ("baseline", "lrtweak"):
            for seed in (0, 1):
                for step in (0, 4, 8):
                    row = {"bits": 2, "optimizer": optimizer, "sweep_factor": 1.0, "seed": seed, "pair": pair,
                           "step": step, "E_bar": 0.1 * step + seed, "agreement": 100 - step, "n_weights": 10}
                    if path_normalised:
                        row["E_bar_path"] = 0.5 * step
                    rows.append(row)
    return pd.DataFrame(rows)


def qat_sweep(path_normalised: bool) -> tuple[pd.DataFrame, dict]:
    f = np.array([0.5, 1.0, 2.0])
    sweep = pd.DataFrame({"bits": 2, "optimizer": "momentum", "sweep_factor": f, "E_bar_mean": 0.2 * f**2,
                          "E_bar_sd": 0.01, "agreement_mean": 99.0, "agreement_sd": 0.1, "n_seeds": 2})
    if path_normalised:
        sweep["E_bar_path_mean"], sweep["E_bar_path_sd"] = 3 * f, 0.2
    return sweep, {"momentum": {"slope": 2.0, "intercept": np.log10(0.2), "n_factors": 3, "bits": 2}}


def theory_curves(experiment="curves", cases=("b2_w1", "b2_w2")) -> pd.DataFrame:
    tau = np.array([0.0, 0.1, 1.0, 10.0])
    rows = []
    for case in cases:
        for source, shift in (("sim_mean", 0.0), ("sim_lo", -0.05), ("sim_hi", 0.05), ("pde", 0.01),
                              ("closure", 0.02), ("particles", 0.0)):
            rows.append(pd.DataFrame({"experiment": experiment, "case": case, "source": source, "tau": tau,
                                      "t": 0.1 * tau, "eps": 1.0 / (1 + tau) + shift}))
    return pd.concat(rows, ignore_index=True)


def density_inputs() -> tuple[dict, dict]:
    rng = np.random.default_rng(1)
    faces = np.linspace(-4, 4, 81)
    x = 0.5 * (faces[1:] + faces[:-1])
    bump = np.exp(-x**2 / 2) / np.sqrt(2 * np.pi)
    sim = {"snapshot_taus": np.array([1.0, 2.0]), "snapshot_0": rng.normal(0, 1, (1, 200)),
           "snapshot_1": rng.normal(0.5, 1, (1, 200)), "w_star": np.ones((1, 200)), "d": np.array(200)}
    theory = {"pde_faces": faces, "pde_teacher_values": np.array([1.0]), "pde_snapshot_taus": np.array([1.0, 2.0]),
              "pde_snapshot_0": bump[None], "pde_snapshot_1": bump[None], "pde_stationary": bump[None],
              "particles_snapshot_taus": np.array([1.0, 2.0]), "particles_snapshot_0": rng.normal(0, 1, 300),
              "particles_snapshot_1": rng.normal(0, 1, 300)}
    return sim, theory


def plateau_table() -> pd.DataFrame:
    return pd.DataFrame({"case": ["w1", "w2"], "omega": [1.0, 2.0], "p_target": [0.8, 0.3],
                         "tau_p_formula": [5.0, 9.0], "tau_p_sim": [5.2, 8.7], "tau_p_pde": [5.1, 8.9]})


def fixed_point_table() -> pd.DataFrame:
    return pd.DataFrame({"sweep": ["bits_omega"] * 4 + ["eta"] * 2, "bits": [1, 1, 2, 2, 2, 2],
                         "omega": [1.0, 2.0, 1.0, 2.0, 2.0, 2.0], "eta": [0.1, 0.1, 0.1, 0.1, 0.1, 0.5],
                         "eps_star": [0.7, 15.0, 0.2, 0.4, 0.4, 0.5], "small_noise": [0.7, 15.0, 0.2, 0.4, 0.4, 0.5],
                         "eps_star_0": [0.005] * 4 + [0.005, 0.03], "deviation": [0.69, 14.9, 0.19, 0.39, 0.39, 0.47]})


def stability_table() -> pd.DataFrame:
    return pd.DataFrame({"eta": [0.5, 0.5, 2.5, 2.5], "model": ["quantized", "unquantized"] * 2,
                         "sim_eps_mean": [0.6, 0.3, 0.9, 1e6], "theory": ["pde", "linear_ode"] * 2,
                         "theory_eps": [0.55, 0.25, 0.95, 1e7]})


def bridge_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    t = np.linspace(0, 1, 5)
    curves = pd.concat([pd.DataFrame({"experiment": "bridge", "case": f"{net}_eta{eta:g}", "source": source,
                                      "tau": t / eta, "t": t, "eps": 2 - t + (0.01 if net == "ste" else 0)})
                        for net in ("qhat", "ste") for eta in (0.2, 0.1) for source in ("sim_mean", "pde")])
    table = pd.DataFrame({"eta": [0.2, 0.1], "sim_max_gap": [0.18, 0.1], "pde_max_gap": [0.04, 0.03],
                          "pde_final_ks": [0.09, 0.07]})
    return curves, table


FIGURES = {
    "fig1_estimators": lambda: plot_estimators(constants_curves()),
    "weight_maps": lambda: plot_weight_maps(constants_curves()),
    "fig3_weight_scatter": lambda: plot_weight_scatter(qat_scatter()),
    "E_bar_over_training": lambda: plot_tracking(qat_tracking(path_normalised=True)),
    "lr_sweep": lambda: plot_lr_sweep(*qat_sweep(path_normalised=True)),
    "error_curves": lambda: plot_error_curves(theory_curves()),
    "densities": lambda: plot_densities(*density_inputs()),
    "plateau": lambda: plot_plateau(plateau_table()),
    "fixed_points": lambda: plot_fixed_points(fixed_point_table()),
    "stability": lambda: plot_stability(stability_table()),
    "bridge": lambda: plot_bridge(*bridge_inputs()),
}
