"""Sweeps without cases: fixed points over (b, ω) and η, and the learning-rate stability sweep.

Paper B (arXiv 2510.10693) analyses the fixed points of the limit dynamics, their deviation
from the unquantized linear model, and stability. :func:`fixed_point_table` tabulates the
self-consistent ε* of :mod:`stelab.theory.fixed_points` over bit widths, ranges and learning
rates, and checks it against long-horizon PDE solves; :func:`stability_sweep` runs finite-d
simulations and the limit for the quantized and the unquantized model over η.
"""

from __future__ import annotations

import math
from contextlib import nullcontext

import numpy as np
import pandas as pd

from ..progress import Progress
from .experiments import deep_merge, experiment_config
from .fixed_points import fixed_point
from .fokker_planck import solve_pde
from .model import Model
from .odes import linear_ode
from .simulate import simulate


def fixed_point_table(theory: dict, progress: bool = False):
    """ε* over (b, ω) and over η, with the unquantized reference; plus long-horizon PDE checks.

    ``progress`` reports the solves done (:class:`stelab.progress.Progress`)."""
    cfg = experiment_config(theory, "fixed_points")
    base = deep_merge(theory["model"], cfg.get("model"))
    pde = deep_merge(theory.get("pde", {}), cfg.get("pde"))
    fp_grid = {"L": float(pde.get("L", 8.0)), "dx": float(pde.get("dx", 0.002))}
    bits, omegas, etas = cfg.get("bits", [2]), cfg.get("omegas", [2.0]), cfg.get("etas", [])
    chk = cfg.get("check", {})
    total = len(bits) * len(omegas) + len(etas) + len(chk.get("cases", {}))
    rows, checks = [], []
    with Progress("fixed points", total, unit="solve") if progress else nullcontext() as bar:
        for b in bits:
            for om in omegas:
                spec = deep_merge(base, {"weight_map": {"bits": int(b), "omega": float(om)}})
                if cfg.get("vary_input", True) and spec.get("input_map", {}).get("kind") == "quantizer":
                    spec = deep_merge(spec, {"input_map": {"bits": int(b), "omega": float(om)}})
                m = Model.from_spec(spec)
                rows.append({"sweep": "bits_omega", "bits": int(b), "omega": float(om), **fixed_point(m, **fp_grid)})
                if bar is not None:
                    bar.update()
        m = Model.from_spec(base)
        for eta in etas:
            rows.append({"sweep": "eta", "bits": m.g.quantizer.bits if m.g.is_step else 0,
                         "omega": m.g.quantizer.m if m.g.is_step else math.nan,
                         **fixed_point(m, eta=float(eta), **fp_grid)})
            if bar is not None:
                bar.update()
        for name, ov in chk.get("cases", {}).items():
            spec = deep_merge(base, ov)
            m = Model.from_spec(spec)
            fp = fixed_point(m, **fp_grid)
            r = solve_pde(m, float(chk.get("tau_max", 400.0)), **deep_merge(pde, chk.get("pde")))
            checks.append({"case": name, "eps_star": fp["eps_star"], "pde_final": float(r.eps[-1]),
                           "abs_diff": abs(fp["eps_star"] - float(r.eps[-1])),
                           "pde_last_change": float(abs(r.eps[-1] - r.eps[-len(r.eps) // 10])),
                           "tau_max": float(chk.get("tau_max", 400.0)), "mass_drift": r.mass_drift,
                           "min_density": r.min_density})
            if bar is not None:
                bar.update()
    table = pd.DataFrame(rows)
    scale = m.error_scale
    for col in ("eps_star", "small_noise", "eps_star_0", "deviation", "input_error", "dither", "saturation",
                "decomposition"):
        if col in table:
            table[col] = table[col] * scale
    return table, pd.DataFrame(checks)


def stability_sweep(theory: dict, progress: bool = False) -> pd.DataFrame:
    """ε after τ_max vs η, quantized (base model) vs unquantized (g = h = identity): simulation and theory.

    ``progress`` reports the runs done (:class:`stelab.progress.Progress`)."""
    cfg = experiment_config(theory, "stability")
    base = deep_merge(theory["model"], cfg.get("model"))
    sim = deep_merge(theory.get("sim", {}), cfg.get("sim"))
    pde = deep_merge(theory.get("pde", {}), cfg.get("pde"))
    tau_max = float(cfg.get("tau_max", 20.0))
    d = int(sim.get("d", 500))
    unq = deep_merge(base, {"weight_map": {"kind": "identity"}, "input_map": {"kind": "identity"}, "surrogate": "ste"})
    rows = []
    etas = cfg.get("etas", [])
    if not etas:
        raise ValueError("theory.experiments.stability.etas: no learning rate η to sweep (give at least one)")
    with Progress("stability sweep", 2 * len(etas), unit="run") if progress else nullcontext() as bar:
        for eta in etas:
            for label, spec in (("quantized", base), ("unquantized", unq)):
                m = Model.from_spec(deep_merge(spec, {"eta": float(eta)}))
                s = simulate(m, d, tau_max, sim.get("seeds", [0]), taus=[tau_max], block=int(sim.get("block", 256)))
                e_sim = s.eps[:, -1]
                if m.g.is_linear:
                    e_th = float(linear_ode(m, [0.0, tau_max])["eps"][-1])
                    th_name = "linear_ode"
                else:
                    e_th = float(solve_pde(m, tau_max, **pde).eps[-1])
                    th_name = "pde"
                fp = fixed_point(m, L=float(pde.get("L", 8.0)), dx=float(pde.get("dx", 0.002)))
                rows.append({"eta": float(eta), "model": label, "c": m.c, "eta_c": float(eta) * m.c,
                             "sim_eps_mean": float(np.mean(e_sim)), "sim_eps_max": float(np.max(e_sim)),
                             "theory": th_name, "theory_eps": e_th, "eps_star": fp["eps_star"],
                             "stable_theory": bool(math.isfinite(fp["eps_star"]))})
                if bar is not None:
                    bar.update()
    df = pd.DataFrame(rows)
    scale = Model.from_spec(base).error_scale
    for col in ("sim_eps_mean", "sim_eps_max", "theory_eps", "eps_star"):
        df[col] = df[col] * scale
    return df
