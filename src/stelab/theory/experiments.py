"""The experiments of spec B §6 as resolved "case" specs and the functions the CLI runs.

A case spec is plain data (JSON), fully resolved from the ``theory:`` config section::

    {"experiment": ..., "case": ..., "model": {...}, "sim": {"d", "seeds", "block"},
     "tau_max": ..., "n_times": ..., "snapshot_taus": [...], "pde": {...},
     "solvers": [...], "particles": {...}, "bridge": {...} (bridge only)}

Experiments with cases (one simulation + one theory solve per case, then a comparison):
``density`` (§6.1), ``curves`` (§6.2, several ω and b), ``plateau`` (§6.2, plateau length
vs ω), ``variants`` (§6.5: weight-only, clipped STE, tanh pair) and ``bridge`` (§6.6: Q̂-net
vs STE-net with M-init and lr αη). Sweeps without cases: ``fixed_points`` (§6.3) and
``stability`` (§6.4).

Bridge cases run to τ_max = t_max/η (a common clock t = ητ for every η) with the PDE time
step scaled by 0.1/η, which keeps the step per unit of t fixed.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd

from .model import Model

CASE_EXPERIMENTS = ("density", "curves", "plateau", "variants", "bridge")
SWEEP_EXPERIMENTS = ("fixed_points", "stability")
SOLVERS = ("pde", "linear_ode", "closure", "transport", "particles")


def deep_merge(base: dict, override: dict | None) -> dict:
    """Recursive dict merge (override wins); returns a new dict."""
    out = copy.deepcopy(base)
    for k, v in (override or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and "kind" not in v:
            out[k] = deep_merge(out[k], v)
        elif isinstance(v, dict) and isinstance(out.get(k), dict) and v.get("kind") == out[k].get("kind"):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _experiment(theory: dict, exp: str) -> dict:
    exps = theory.get("experiments", {})
    if exp not in exps:
        raise ValueError(f"theory.experiments.{exp}: not configured (have {sorted(exps)})")
    return exps[exp]


def _base_case(theory: dict, exp: str, name: str, cfg: dict, model_override: dict | None) -> dict:
    model = deep_merge(theory["model"], cfg.get("model"))
    model = deep_merge(model, model_override)
    return {
        "experiment": exp,
        "case": name,
        "model": model,
        "sim": deep_merge(theory.get("sim", {}), cfg.get("sim")),
        "pde": deep_merge(theory.get("pde", {}), cfg.get("pde")),
        "particles": deep_merge(theory.get("particles", {}), cfg.get("particles")),
        "tau_max": float(cfg.get("tau_max", theory.get("tau_max", 100.0))),
        "n_times": int(cfg.get("n_times", theory.get("n_times", 120))),
        "snapshot_taus": [float(t) for t in cfg.get("snapshot_taus", [])],
        "solvers": list(cfg.get("solvers", theory.get("solvers", ["pde", "closure"]))),
    }


def experiment_cases(theory: dict, exp: str) -> dict:
    """Resolved case specs of an experiment, by case name (empty for sweeps / disabled ones)."""
    if exp not in CASE_EXPERIMENTS:
        return {}
    cfg = _experiment(theory, exp)
    if not cfg.get("enabled", True):
        return {}
    if exp == "density":
        return {"main": _base_case(theory, exp, "main", cfg, None)}
    if exp in ("curves", "variants"):
        return {name: _base_case(theory, exp, name, cfg, ov) for name, ov in cfg.get("cases", {}).items()}
    if exp == "plateau":
        out = {}
        for om in cfg.get("omegas", []):
            ov = {"weight_map": {"omega": float(om)}}
            if cfg.get("vary_input", False):
                ov["input_map"] = {"omega": float(om)}
            out[f"w{om:g}"] = _base_case(theory, exp, f"w{om:g}", cfg, ov)
        return out
    out = {}
    for eta in cfg.get("etas", []):
        for net in ("qhat", "ste"):
            name = f"{net}_eta{eta:g}"
            case = _base_case(theory, exp, name, cfg, {"eta": float(eta)})
            case["tau_max"] = float(cfg.get("t_max", 10.0)) / float(eta)
            case["pde"] = dict(case["pde"], dt=float(case["pde"].get("dt", 0.01)) * 0.1 / float(eta))
            case["bridge"] = {"net": net, "estimator": cfg.get("estimator", {"name": "htge", "k0": 5.5}),
                              "optimizer": "sgd"}
            out[name] = case
    return out


def section_for(theory: dict, exp: str) -> dict:
    """The theory section reduced to one experiment (a rule's parameter: editing another
    experiment does not re-trigger it)."""
    out = {k: v for k, v in theory.items() if k != "experiments"}
    out["experiments"] = {exp: _experiment(theory, exp)}
    return out


def case_spec(theory: dict, exp: str, case: str) -> dict:
    cases = experiment_cases(theory, exp)
    if case not in cases:
        raise ValueError(f"theory.experiments.{exp}: no case {case!r} (have {sorted(cases)})")
    return cases[case]


def validate_theory(theory: dict) -> None:
    """Semantic checks before any job runs: every case's model builds (maps, surrogate, laws,
    zero-mean input map) and every solver name is known. Raises ValueError naming the key."""
    for exp in CASE_EXPERIMENTS:
        if exp not in theory.get("experiments", {}):
            continue
        for name, case in experiment_cases(theory, exp).items():
            key = f"theory.experiments.{exp}[{name}]"
            model = Model.from_spec(case["model"], key=f"{key}.model")
            unknown = set(case["solvers"]) - set(SOLVERS)
            if unknown:
                raise ValueError(f"{key}.solvers: unknown {sorted(unknown)}; allowed {list(SOLVERS)}")
            if exp == "bridge" and not model.g.is_step:
                raise ValueError(f"{key}.model.weight_map: the bridge needs a quantizer weight map")
    for exp in SWEEP_EXPERIMENTS:
        if exp in theory.get("experiments", {}):
            Model.from_spec(deep_merge(theory["model"], theory["experiments"][exp].get("model")),
                            key=f"theory.experiments.{exp}.model")


def time_grid(tau_max: float, n: int, d: int | None = None) -> np.ndarray:
    """Union of a linear and a log-spaced grid on [0, τ_max] (for log-time plots)."""
    lo = max(tau_max * 1e-3, (20.0 / d) if d else 0.0)
    grid = np.concatenate([[0.0], np.linspace(0.0, tau_max, n), np.geomspace(lo, tau_max, n)])
    if d:
        grid = np.round(grid * d) / d
    return np.unique(grid)


# ---------------------------------------------------------------- bridge: the two nets
def bridge_setup(case: dict):
    """(model, eta, init_map) for the Q̂-net (estimator Q̂, lr η, w₀) or the STE-net
    (STE or clipped STE per App. G, lr αη, M(w₀)) of spec A Table 1 in this linear model."""
    import torch

    from ..equivalence import WeightMap
    from ..estimators import get_estimator

    br = case["bridge"]
    spec = copy.deepcopy(case["model"])
    probe = Model.from_spec(spec)
    if not probe.g.is_step:
        raise ValueError("theory.experiments.bridge: needs a quantizer weight map")
    est = get_estimator(br["estimator"])
    wm = WeightMap(est, probe.g.quantizer)
    if br["net"] == "qhat":
        spec["surrogate"] = {"estimator": br["estimator"]}
        return Model.from_spec(spec), probe.eta, None, wm
    ste = wm.ste_estimator(br.get("optimizer", "sgd"))
    spec["surrogate"] = {"estimator": {"name": ste.name, **{k: v for k, v in ste.params().items() if v is not None}}}
    eta = probe.eta * wm.learning_rate_factor(br.get("optimizer", "sgd"))

    def init_map(w):
        return wm(torch.from_numpy(np.asarray(w, dtype=np.float64))).numpy()

    return Model.from_spec(spec), eta, init_map, wm


# ---------------------------------------------------------------- running one case
def run_simulation(case: dict, progress: bool = False) -> dict:
    from .simulate import simulate

    model = Model.from_spec(case["model"])
    eta, init_map = None, None
    if "bridge" in case:
        model, eta, init_map, _ = bridge_setup(case)
    sim = case["sim"]
    d = int(sim.get("d", 1000))
    taus = time_grid(case["tau_max"], case["n_times"], d)
    res = simulate(model, d, case["tau_max"], sim.get("seeds", [0]), taus=taus,
                   snapshot_taus=case["snapshot_taus"], block=int(sim.get("block", 256)),
                   progress=progress, init_transform=init_map, eta=eta)
    out = res.to_npz_dict(model.error_scale)
    out["eta"] = np.asarray(model.eta if eta is None else eta)
    return out


def _pushforward_mu0(model: Model, fp, wm) -> np.ndarray:
    """Cell averages of the law of M(ŵ₀), ŵ₀ ~ μ₀ (STE-net start of the bridge)."""
    import torch

    pre = wm.inverse(torch.from_numpy(fp.grid.faces.copy())).numpy()
    mass = np.diff(model.init.cdf(pre))
    mass = mass / mass.sum()
    return np.repeat((mass / fp.h)[None, :], len(model.teacher.values), axis=0)


def _stationary_arrays(model: Model, opts: dict, eta: float, scale: float) -> dict:
    """The τ → ∞ limit beside the snapshots: μ*(· | w*) on the PDE grid at the self-consistent ε*
    (spec B §5; rows of teacher values without a stationary state are nan)."""
    from .fixed_points import Stationary

    st = Stationary(model, opts["L"], opts["dx"], eta=eta)
    eps = st.solve()["eps_star"]
    dens = np.array([np.full(len(st.h), np.nan) if sat is not None else st.density(eps, k)
                     for k, sat in enumerate(st.sat)])
    return {"pde_stationary": dens, "pde_eps_star": np.asarray(scale * eps)}


def run_theory(case: dict, progress: bool = False) -> dict:
    """Solve every configured limit for one case; returns arrays for an NPZ file."""
    from .fokker_planck import PDE_DEFAULTS, FokkerPlanck
    from .odes import gaussian_closure, linear_ode, particles, transport_limit

    model = Model.from_spec(case["model"])
    eta, wm = model.eta, None
    if "bridge" in case:
        model, eta, _, wm = bridge_setup(case)
    unknown = set(case["solvers"]) - set(SOLVERS)
    if unknown:
        raise ValueError(f"theory.experiments.{case['experiment']}.solvers: unknown {sorted(unknown)}; allowed {SOLVERS}")
    tau_max = case["tau_max"]
    taus = time_grid(tau_max, case["n_times"])
    out = {"eta": np.asarray(eta), "eps0": np.asarray(model.initial_error() * model.error_scale)}
    scale = model.error_scale
    for solver in case["solvers"]:
        if solver == "pde":
            opts = {**PDE_DEFAULTS, **case["pde"]}
            fp = FokkerPlanck(model, opts["L"], opts["dx"], eta=eta)
            mu0 = _pushforward_mu0(model, fp, wm) if (wm is not None and case["bridge"]["net"] == "ste") else None
            r = fp.run(tau_max, opts["dt"], opts["theta"], int(opts["startup_steps"]), case["snapshot_taus"],
                       mu0=mu0, progress=progress)
            for k, v in r.to_npz_dict(scale).items():
                out[f"pde_{k}"] = v
            out["pde_final"] = r.final
            if case["snapshot_taus"] and model.s.is_one and wm is None:
                out.update(_stationary_arrays(model, opts, eta, scale))
        elif solver == "linear_ode":
            if model.g.is_linear and model.s.is_one:
                r = linear_ode(model, taus, eta)
                out["linear_ode_tau"], out["linear_ode_eps"] = r["tau"], scale * r["eps"]
        elif solver == "closure":
            r = gaussian_closure(model, taus, eta)
            out["closure_tau"], out["closure_eps"] = r["tau"], scale * r["eps"]
        elif solver == "transport":
            r = transport_limit(model, taus, eta, n_particles=int(case.get("transport", {}).get("n", 2000)),
                                dt=float(case.get("transport", {}).get("dt", 5e-3)))
            out["transport_tau"], out["transport_eps"] = r["tau"], scale * r["eps"]
        elif solver == "particles":
            p = case["particles"]
            r = particles(model, tau_max, taus, n=int(p.get("n", 20000)), dt=float(p.get("dt", 0.02)),
                          seed=int(p.get("seed", 0)), eta=eta, snapshot_taus=case["snapshot_taus"])
            out["particles_tau"], out["particles_eps"] = r["tau"], scale * r["eps"]
            snaps = sorted(r["snapshots"])
            out["particles_snapshot_taus"] = np.asarray(snaps)
            for i, t in enumerate(snaps):
                out[f"particles_snapshot_{i}"] = r["snapshots"][t]
    return out


# ---------------------------------------------------------------- comparisons
def ks_distance(samples: np.ndarray, faces: np.ndarray, density: np.ndarray) -> float:
    """sup_x |F_emp(x) − F_pde(x)| with F_pde piecewise linear in x between cell faces."""
    xs = np.sort(np.asarray(samples, dtype=np.float64).ravel())
    cdf_faces = np.concatenate([[0.0], np.cumsum(density * np.diff(faces))])
    F = np.interp(xs, faces, cdf_faces)
    n = len(xs)
    upper = np.arange(1, n + 1) / n
    lower = np.arange(0, n) / n
    return float(max(np.max(np.abs(upper - F)), np.max(np.abs(F - lower))))


def theory_curves(th: dict) -> dict:
    """{solver: (tau, eps)} present in a theory NPZ."""
    return {s: (np.asarray(th[f"{s}_tau"]), np.asarray(th[f"{s}_eps"])) for s in SOLVERS if f"{s}_eps" in th}


def gap_rows(experiment: str, case: str, sim: dict, th: dict) -> list[dict]:
    """Max/mean |Δε| of the seed-mean simulation vs each theory curve on the simulation grid,
    with the seed spread (std of the mean) for scale, and KS distances of densities."""
    tau, eps = np.asarray(sim["tau"]), np.asarray(sim["eps"])
    mean = eps.mean(axis=0)
    sem = eps.std(axis=0, ddof=1).mean() / math.sqrt(eps.shape[0]) if eps.shape[0] > 1 else math.nan
    rows = []
    for solver, (t, e) in theory_curves(th).items():
        ok = tau <= t[-1] + 1e-9
        diff = np.abs(mean[ok] - np.interp(tau[ok], t, e))
        rows.append({"experiment": experiment, "case": case, "theory": solver, "quantity": "eps",
                     "tau": math.nan, "max_abs_diff": float(diff.max()), "mean_abs_diff": float(diff.mean()),
                     "seed_sem": float(sem), "ks": math.nan, "d": int(sim["d"]), "seeds": int(eps.shape[0])})
    for i, t in enumerate(np.asarray(sim.get("snapshot_taus", []))):
        if "pde_snapshot_taus" not in th:
            continue
        j = int(np.argmin(np.abs(np.asarray(th["pde_snapshot_taus"]) - t)))
        dens = np.asarray(th[f"pde_snapshot_{j}"])
        wv = np.asarray(th["pde_teacher_values"])
        w = np.asarray(sim[f"snapshot_{i}"])
        ws = np.asarray(sim["w_star"])
        for k, v in enumerate(wv):
            sel = w[np.isclose(ws, v)]
            if sel.size == 0:
                continue
            rows.append({"experiment": experiment, "case": case, "theory": "pde", "quantity": f"density|w*={v:g}",
                         "tau": float(t), "max_abs_diff": math.nan, "mean_abs_diff": math.nan, "seed_sem": math.nan,
                         "ks": ks_distance(sel, np.asarray(th["pde_faces"]), dens[k]), "d": int(sim["d"]),
                         "seeds": int(w.shape[0])})
    snaps = np.asarray(sim.get("snapshot_taus", []))
    if len(snaps) and "pde_stationary" in th:  # last snapshot vs the τ → ∞ density μ*
        w, ws, last = np.asarray(sim[f"snapshot_{len(snaps) - 1}"]), np.asarray(sim["w_star"]), float(snaps[-1])
        for k, v in enumerate(np.asarray(th["pde_teacher_values"])):
            sel, mu = w[np.isclose(ws, v)], np.asarray(th["pde_stationary"])[k]
            if sel.size == 0 or not np.all(np.isfinite(mu)):
                continue
            rows.append({"experiment": experiment, "case": case, "theory": "stationary",
                         "quantity": f"density|w*={v:g}", "tau": last, "max_abs_diff": math.nan,
                         "mean_abs_diff": math.nan, "seed_sem": math.nan,
                         "ks": ks_distance(sel, np.asarray(th["pde_faces"]), mu), "d": int(sim["d"]),
                         "seeds": int(w.shape[0])})
    return rows


def curve_rows(experiment: str, case: str, sim: dict, th: dict, t_scale: float = 1.0) -> list[dict]:
    """Long table of ε curves: source (sim_mean, sim_lo, sim_hi, theory solvers) × τ."""
    tau, eps = np.asarray(sim["tau"]), np.asarray(sim["eps"])
    rows = []

    def add(source, t, e):
        rows.extend({"experiment": experiment, "case": case, "source": source, "tau": float(a),
                     "t": float(a) * t_scale, "eps": float(b)} for a, b in zip(t, e))

    add("sim_mean", tau, eps.mean(axis=0))
    add("sim_lo", tau, eps.min(axis=0))
    add("sim_hi", tau, eps.max(axis=0))
    for solver, (t, e) in theory_curves(th).items():
        if solver == "pde" and len(t) > 2000:
            idx = np.unique(np.concatenate([np.searchsorted(t, time_grid(t[-1], 400)), [len(t) - 1]]))
            idx = idx[idx < len(t)]
            t, e = t[idx], e[idx]
        add(solver, t, e)
    return rows


def plateau_rows(cases: dict, sims: dict, ths: dict) -> pd.DataFrame:
    """Plateau length per case: measured on the simulation mean and on the PDE, and τ_p."""
    from .plateau import measure_plateau, predicted_plateau, target_position

    rows = []
    for name, case in cases.items():
        model = Model.from_spec(case["model"])
        sim, th = sims[name], ths[name]
        pred = predicted_plateau(model)
        row = {"case": name, "omega": model.g.quantizer.m, "a": model.a, "c": model.c,
               "p_target": target_position(model), "tau_p_formula": pred["tau_p"], "speed": pred["speed"],
               "tau_p_sim": measure_plateau(sim["tau"], np.asarray(sim["eps"]).mean(axis=0))}
        if "pde_eps" in th:
            row["tau_p_pde"] = measure_plateau(th["pde_tau"], th["pde_eps"])
        rows.append(row)
    return pd.DataFrame(rows)


def _bridge_ks(case_q: dict, th_q: dict, th_s: dict) -> float:
    """KS distance between the law of M(ŵ) under the Q̂-net and the law of ŵ under the STE-net
    at the final time (the STE-net lives in M-coordinates)."""
    import torch

    _, _, _, wm = bridge_setup(case_q)
    fq, fs = np.asarray(th_q["pde_faces"]), np.asarray(th_s["pde_faces"])
    cq = np.concatenate([[0.0], np.cumsum(np.asarray(th_q["pde_final"])[0] * np.diff(fq))])
    cs = np.concatenate([[0.0], np.cumsum(np.asarray(th_s["pde_final"])[0] * np.diff(fs))])
    x = np.linspace(max(fq[0], fs[0]) * 0.75, min(fq[-1], fs[-1]) * 0.75, 3001)
    pre = wm.inverse(torch.from_numpy(x)).numpy()
    return float(np.max(np.abs(np.interp(pre, fq, cq) - np.interp(x, fs, cs))))


def bridge_rows(cases: dict, sims: dict, ths: dict) -> pd.DataFrame:
    """Gap between Q̂-net and STE-net per η on the common clock t = ητ_Q̂ (spec B §6.6)."""
    rows = []
    etas = sorted({c["model"]["eta"] for c in cases.values()}, reverse=True)
    for eta in etas:
        q, s = f"qhat_eta{eta:g}", f"ste_eta{eta:g}"
        if q not in cases or s not in cases:
            continue
        row = {"eta": eta, "alpha": float(sims[s]["eta"]) / eta}
        a, b = np.asarray(sims[q]["eps"]), np.asarray(sims[s]["eps"])
        diff = np.abs(a - b)  # paired runs: same seeds, same data streams
        row.update(sim_max_gap=float(diff.max()), sim_mean_gap=float(diff.mean()))
        if "pde_eps" in ths[q] and "pde_eps" in ths[s]:
            tq, eq = ths[q]["pde_tau"], ths[q]["pde_eps"]
            es = np.interp(tq, ths[s]["pde_tau"], ths[s]["pde_eps"])
            dd = np.abs(eq - es)
            row.update(pde_max_gap=float(dd.max()), pde_mean_gap=float(dd.mean()))
            row["pde_final_ks"] = _bridge_ks(cases[q], ths[q], ths[s])
        rows.append(row)
    return pd.DataFrame(rows)


def compare(exp: str, cases: dict, sims: dict, ths: dict):
    """(curves, gaps, extra) DataFrames for one experiment."""
    curves, gaps = [], []
    for name in cases:
        scale = float(cases[name]["model"]["eta"]) if exp == "bridge" else 1.0
        curves += curve_rows(exp, name, sims[name], ths[name], scale)
        gaps += gap_rows(exp, name, sims[name], ths[name])
    extra = None
    if exp == "plateau":
        extra = plateau_rows(cases, sims, ths)
    elif exp == "bridge":
        extra = bridge_rows(cases, sims, ths)
    return pd.DataFrame(curves), pd.DataFrame(gaps), extra


# ---------------------------------------------------------------- sweeps
def fixed_point_table(theory: dict, progress: bool = False):
    """ε* over (b, ω) and over η, with the unquantized reference; plus long-horizon PDE checks."""
    from .fixed_points import fixed_point
    from .fokker_planck import solve_pde

    cfg = _experiment(theory, "fixed_points")
    base = deep_merge(theory["model"], cfg.get("model"))
    pde = deep_merge(theory.get("pde", {}), cfg.get("pde"))
    fp_grid = {"L": float(pde.get("L", 8.0)), "dx": float(pde.get("dx", 0.002))}
    rows = []
    for b in cfg.get("bits", [2]):
        for om in cfg.get("omegas", [2.0]):
            spec = deep_merge(base, {"weight_map": {"bits": int(b), "omega": float(om)}})
            if cfg.get("vary_input", True) and spec.get("input_map", {}).get("kind") == "quantizer":
                spec = deep_merge(spec, {"input_map": {"bits": int(b), "omega": float(om)}})
            m = Model.from_spec(spec)
            rows.append({"sweep": "bits_omega", "bits": int(b), "omega": float(om), **fixed_point(m, **fp_grid)})
    m = Model.from_spec(base)
    for eta in cfg.get("etas", []):
        rows.append({"sweep": "eta", "bits": m.g.quantizer.bits if m.g.is_step else 0,
                     "omega": m.g.quantizer.m if m.g.is_step else math.nan,
                     **fixed_point(m, eta=float(eta), **fp_grid)})
    table = pd.DataFrame(rows)
    checks = []
    chk = cfg.get("check", {})
    for name, ov in chk.get("cases", {}).items():
        spec = deep_merge(base, ov)
        m = Model.from_spec(spec)
        fp = fixed_point(m, **fp_grid)
        r = solve_pde(m, float(chk.get("tau_max", 400.0)), progress=progress, **deep_merge(pde, chk.get("pde")))
        checks.append({"case": name, "eps_star": fp["eps_star"], "pde_final": float(r.eps[-1]),
                       "abs_diff": abs(fp["eps_star"] - float(r.eps[-1])),
                       "pde_last_change": float(abs(r.eps[-1] - r.eps[-len(r.eps) // 10])),
                       "tau_max": float(chk.get("tau_max", 400.0)), "mass_drift": r.mass_drift,
                       "min_density": r.min_density})
    scale = m.error_scale
    for col in ("eps_star", "small_noise", "eps_star_0", "deviation", "input_error", "dither", "saturation",
                "decomposition"):
        if col in table:
            table[col] = table[col] * scale
    return table, pd.DataFrame(checks)


def stability_sweep(theory: dict, progress: bool = False) -> pd.DataFrame:
    """ε after τ_max vs η, quantized (base model) vs unquantized (g = h = identity): simulation and theory."""
    from .fixed_points import fixed_point
    from .fokker_planck import solve_pde
    from .odes import linear_ode
    from .simulate import simulate

    cfg = _experiment(theory, "stability")
    base = deep_merge(theory["model"], cfg.get("model"))
    sim = deep_merge(theory.get("sim", {}), cfg.get("sim"))
    pde = deep_merge(theory.get("pde", {}), cfg.get("pde"))
    tau_max = float(cfg.get("tau_max", 20.0))
    d = int(sim.get("d", 500))
    unq = deep_merge(base, {"weight_map": {"kind": "identity"}, "input_map": {"kind": "identity"}, "surrogate": "ste"})
    rows = []
    for eta in cfg.get("etas", []):
        for label, spec in (("quantized", base), ("unquantized", unq)):
            m = Model.from_spec(deep_merge(spec, {"eta": float(eta)}))
            s = simulate(m, d, tau_max, sim.get("seeds", [0]), taus=[tau_max], block=int(sim.get("block", 256)),
                         progress=progress)
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
    df = pd.DataFrame(rows)
    scale = Model.from_spec(base).error_scale
    for col in ("sim_eps_mean", "sim_eps_max", "theory_eps", "eps_star"):
        df[col] = df[col] * scale
    return df
