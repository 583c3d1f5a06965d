"""Running one resolved case: the finite-d simulation and the limit solves, as NPZ arrays.

:func:`run_simulation` runs the online SGD of paper B's model (:mod:`stelab.theory.simulate`)
for every seed; :func:`run_theory` solves each configured limit (:data:`SOLVERS`): the
Fokker–Planck PDE, the closed linear ODE, the Gaussian closure, the small-η transport limit and
the particle solver of the limit SDE (:mod:`stelab.theory.fokker_planck`,
:mod:`stelab.theory.odes`), plus the τ → ∞ stationary density beside the PDE snapshots
(:mod:`stelab.theory.fixed_points`). ε is recorded on :func:`time_grid`, linear and
log-spaced for the log-time plots.
"""

from __future__ import annotations

import numpy as np

from .bridge import bridge_setup, ste_net_initial_density
from .experiments import SOLVERS
from .fixed_points import Stationary
from .fokker_planck import PDE_DEFAULTS, FokkerPlanck
from .model import Model
from .odes import gaussian_closure, linear_ode, particles, transport_limit
from .simulate import simulate


def time_grid(tau_max: float, n: int, d: int | None = None) -> np.ndarray:
    """Union of a linear and a log-spaced grid on [0, τ_max] (for log-time plots)."""
    lo = max(tau_max * 1e-3, (20.0 / d) if d else 0.0)
    grid = np.concatenate([[0.0], np.linspace(0.0, tau_max, n), np.geomspace(lo, tau_max, n)])
    if d:
        grid = np.round(grid * d) / d
    return np.unique(grid)


def run_simulation(case: dict, progress: bool = False) -> dict:
    """The finite-d simulation of one case (every seed; the bridge's STE-net from M(ŵ₀) at lr αη);
    returns arrays for an NPZ file. ``progress`` reports the SGD steps done."""
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


def _stationary_arrays(model: Model, opts: dict, eta: float, scale: float) -> dict:
    """The τ → ∞ limit beside the snapshots: μ*(· | w*) on the PDE grid at the self-consistent ε*
    (:class:`stelab.theory.fixed_points.Stationary`; rows of teacher values without a
    stationary state are nan)."""
    st = Stationary(model, opts["L"], opts["dx"], eta=eta)
    eps = st.solve()["eps_star"]
    dens = np.array([np.full(len(st.h), np.nan) if sat is not None else st.density(eps, k)
                     for k, sat in enumerate(st.sat)])
    return {"pde_stationary": dens, "pde_eps_star": np.asarray(scale * eps)}


def run_theory(case: dict, progress: bool = False) -> dict:
    """Solve every configured limit for one case; returns arrays for an NPZ file. ``progress``
    reports the time steps of the PDE and of the particle solver."""
    model = Model.from_spec(case["model"])
    eta, wm = model.eta, None
    if "bridge" in case:
        model, eta, _, wm = bridge_setup(case)
    unknown = set(case["solvers"]) - set(SOLVERS)
    if unknown:
        raise ValueError(f"theory.experiments.{case['experiment']}.solvers: unknown {sorted(unknown)}; "
                         f"allowed {list(SOLVERS)}")
    tau_max = case["tau_max"]
    taus = time_grid(tau_max, case["n_times"])
    out = {"eta": np.asarray(eta), "eps0": np.asarray(model.initial_error() * model.error_scale)}
    scale = model.error_scale
    for solver in case["solvers"]:
        if solver == "pde":
            opts = {**PDE_DEFAULTS, **case["pde"]}
            fp = FokkerPlanck(model, opts["L"], opts["dx"], eta=eta)
            ste_net = wm is not None and case["bridge"]["net"] == "ste"
            mu0 = ste_net_initial_density(model, fp, wm) if ste_net else None
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
                          seed=int(p.get("seed", 0)), eta=eta, snapshot_taus=case["snapshot_taus"],
                          progress=progress)
            out["particles_tau"], out["particles_eps"] = r["tau"], scale * r["eps"]
            snaps = sorted(r["snapshots"])
            out["particles_snapshot_taus"] = np.asarray(snaps)
            for i, t in enumerate(snaps):
                out[f"particles_snapshot_{i}"] = r["snapshots"][t]
    return out
