"""Theory benchmark: one ε(τ) curve to τ = 100 in the setting of paper B's density figure (arXiv 2510.10693).

PDE solve vs one d = 3000 simulation, in one run, printed as a ratio. The accuracy goal is
max |Δε| ≤ 0.01 of the PDE against the mean of a 3-seed simulation (goal: PDE ≥ 100× faster).

    .venv/bin/python benchmarks/theory_speed.py [--d 3000] [--tau 100] [--seeds 0 1 2]

The PDE runs on the grid of ``--L``/``--dx``/``--dt`` (default coarse: 6 / 0.01 / 0.1, thresholds
on cell faces); the reference grid (8 / 0.002 / 0.01) is solved too, and the coarse grid's error
against it is printed. The simulation's own seed noise (standard error of the 3-seed mean) is
printed beside the PDE–simulation gap: at d = 3000 it is of the same order as 0.01.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stelab.theory.fokker_planck import solve_pde
from stelab.theory.model import Model
from stelab.theory.simulate import simulate

SETTING = {
    "weight_map": {"kind": "quantizer", "bits": 2, "omega": 2.0, "layout": "range"},
    "input_map": {"kind": "quantizer", "bits": 2, "omega": 2.0, "layout": "range"},
    "surrogate": "ste", "eta": 0.1, "sigma": 0.0,
    "teacher": {"kind": "constant", "value": 1.0}, "init": {"kind": "normal", "mean": 0.0, "std": 1.0},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=3000)
    ap.add_argument("--tau", type=float, default=100.0)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--L", type=float, default=6.0)
    ap.add_argument("--dx", type=float, default=0.01)
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=3, help="PDE timings: best of this many")
    args = ap.parse_args()

    model = Model.from_spec(SETTING)
    taus = np.linspace(0.0, args.tau, 201)

    pde_times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        pde = solve_pde(model, args.tau, L=args.L, dx=args.dx, dt=args.dt)
        pde_times.append(time.perf_counter() - t0)
    t_pde = min(pde_times)
    t0 = time.perf_counter()
    ref = solve_pde(model, args.tau)
    t_ref = time.perf_counter() - t0

    t0 = time.perf_counter()
    one = simulate(model, args.d, args.tau, args.seeds[:1], taus=taus)
    t_sim = time.perf_counter() - t0
    rest = simulate(model, args.d, args.tau, args.seeds[1:], taus=taus) if len(args.seeds) > 1 else None
    eps = one.eps if rest is None else np.vstack([one.eps, rest.eps])
    mean = eps.mean(axis=0)

    gap = np.abs(mean - np.interp(one.tau, pde.tau, pde.eps))
    gap_ref = np.abs(mean - np.interp(one.tau, ref.tau, ref.eps))
    grid_err = np.max(np.abs(np.interp(ref.tau, pde.tau, pde.eps) - ref.eps))
    sem = eps.std(axis=0, ddof=1).max() / np.sqrt(len(eps)) if len(eps) > 1 else float("nan")
    print(f"setting: b=2, ω=2 midrise weights and inputs, η=0.1, w*=1, μ₀=N(0,1), τ=0…{args.tau:g}")
    print(f"simulation d={args.d}, one seed:         {t_sim:8.2f} s  ({int(args.d * args.tau)} steps)")
    print(f"PDE L={args.L:g}, dx={args.dx:g}, dt={args.dt:g} (best of {args.repeat}): {t_pde:8.3f} s  "
          f"(mass drift {pde.mass_drift:.1e}, min density {pde.min_density:.1e})")
    print(f"PDE reference L=8, dx=0.002, dt=0.01:      {t_ref:8.3f} s")
    print(f"max |Δε| PDE vs {len(eps)}-seed simulation mean: {gap.max():.4f} (mean {gap.mean():.4f}); "
          f"reference grid: {gap_ref.max():.4f}; PDE grid error vs reference: {grid_err:.1e}; "
          f"largest seed standard error: {sem:.4f}")
    print(f"speed ratio (one simulation / PDE): {t_sim / t_pde:.0f}x   "
          f"[reference grid: {t_sim / t_ref:.0f}x]  goal ≥ 100x at max |Δε| ≤ 0.01")


if __name__ == "__main__":
    main()
