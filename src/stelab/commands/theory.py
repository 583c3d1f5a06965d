"""``stelab theory simulate|solve|compare|fixed-point|sweep``: the theory track's CLI.

Every command takes ``--spec``: a JSON object (or ``@file.json``), either one resolved case
(simulate, solve; see :mod:`stelab.theory.experiments`) or the whole ``theory:`` config
section (compare, fixed-point, sweep). Outputs are NPZ (arrays) and TSV (tables), written
atomically. torch and the solvers are imported inside the handlers.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def _load_spec(text: str) -> dict:
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.exists():
            raise FileNotFoundError(f"--spec file {path} does not exist")
        text = path.read_text()
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--spec is not valid JSON ({exc})") from None
    if not isinstance(spec, dict):
        raise ValueError("--spec must be a JSON object")
    return spec


def _threads(n: int) -> None:
    """Thread count from the rule's ``threads:`` (torch is only loaded by the bridge experiment)."""
    import os

    n = max(1, int(n))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(n)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)


def _save_npz(path, arrays: dict) -> None:
    import numpy as np

    from ..io import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)


def _load_npz(path) -> dict:
    import numpy as np

    if not Path(path).exists():
        raise FileNotFoundError(f"input file {path} does not exist")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def _case_from(args) -> dict:
    from ..theory.experiments import case_spec

    spec = _load_spec(args.spec)
    if args.experiment:
        return case_spec(spec, args.experiment, args.case)
    if "model" not in spec or "experiment" not in spec:
        raise ValueError("--spec: expected a resolved case (keys model, experiment, ...) "
                         "or the theory section together with --experiment and --case")
    return spec


def cmd_simulate(args) -> int:
    from ..theory.case_runs import run_simulation

    _threads(args.threads)
    case = _case_from(args)
    print(f"theory simulate {case['experiment']}/{case['case']}: d={case['sim'].get('d')} "
          f"seeds={case['sim'].get('seeds')} τ_max={case['tau_max']:g}", file=sys.stderr)
    start = time.perf_counter()
    out = run_simulation(case, progress=True)
    _save_npz(args.out, out)
    print(f"  done in {time.perf_counter() - start:.1f} s → {args.out}", file=sys.stderr)
    return 0


def cmd_solve(args) -> int:
    from ..theory.case_runs import run_theory

    _threads(args.threads)
    case = _case_from(args)
    print(f"theory solve {case['experiment']}/{case['case']}: solvers={case['solvers']}", file=sys.stderr)
    start = time.perf_counter()
    out = run_theory(case, progress=True)
    _save_npz(args.out, out)
    print(f"  done in {time.perf_counter() - start:.1f} s → {args.out}", file=sys.stderr)
    if "pde_mass_drift" in out:
        print(f"  pde: mass drift {float(out['pde_mass_drift']):.2e}, "
              f"min density {float(out['pde_min_density']):.2e}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    from ..io import write_table
    from ..theory.comparison import compare
    from ..theory.experiments import experiment_cases

    theory = _load_spec(args.spec)
    cases = experiment_cases(theory, args.experiment)
    if len(args.sim) != len(cases) or len(args.theory) != len(cases):
        raise ValueError(f"theory compare {args.experiment}: need one --sim and one --theory file per case "
                         f"({len(cases)}: {list(cases)}), got {len(args.sim)} and {len(args.theory)}")
    sims = {name: _load_npz(p) for name, p in zip(cases, args.sim)}
    ths = {name: _load_npz(p) for name, p in zip(cases, args.theory)}
    curves, gaps, extra = compare(args.experiment, cases, sims, ths)
    write_table(args.curves, curves)
    write_table(args.gaps, gaps)
    if args.extra:
        if extra is None:
            raise ValueError(f"theory compare {args.experiment}: --extra is only produced for plateau and bridge")
        write_table(args.extra, extra)
    with_curves = gaps[gaps["quantity"] == "eps"]
    for _, r in with_curves.iterrows():
        print(f"  {r['case']:>16s} vs {r['theory']:<10s} max|Δε| {r['max_abs_diff']:.4f} "
              f"mean|Δε| {r['mean_abs_diff']:.4f}", file=sys.stderr)
    return 0


def cmd_fixed_point(args) -> int:
    from ..io import write_table
    from ..theory.sweeps import fixed_point_table

    table, checks = fixed_point_table(_load_spec(args.spec), progress=True)
    write_table(args.out, table)
    write_table(args.checks, checks)
    for _, r in checks.iterrows():
        print(f"  check {r['case']}: ε* {r['eps_star']:.5f} vs PDE(τ={r['tau_max']:g}) {r['pde_final']:.5f} "
              f"|Δ| {r['abs_diff']:.2e}", file=sys.stderr)
    return 0


def cmd_sweep(args) -> int:
    from ..io import write_table
    from ..theory.sweeps import stability_sweep

    _threads(args.threads)
    if args.experiment != "stability":
        raise ValueError(f"theory sweep: --experiment must be 'stability', got {args.experiment!r}")
    write_table(args.out, stability_sweep(_load_spec(args.spec), progress=True))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "theory",
        help="high-dimensional STE dynamics: finite-d simulation, Fokker–Planck/ODE limits, fixed points",
        description="Theory track (paper B, arXiv 2510.10693): simulate the teacher–student STE dynamics at "
                    "finite d, solve their d → ∞ limits, compare them, and compute fixed points and sweeps.",
    )
    sub = p.add_subparsers(dest="theory_command", metavar="<subcommand>", required=True)

    def add_case_args(sp):
        sp.add_argument("--spec", required=True,
                        help="JSON (or @file): a resolved case, or the theory: section with --experiment/--case")
        sp.add_argument("--experiment", help="experiment name (density, curves, plateau, variants, bridge)")
        sp.add_argument("--case", help="case name inside the experiment")
        sp.add_argument("--out", required=True, help="output .npz")
        sp.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")

    s = sub.add_parser("simulate", help="finite-d online SGD for one case (all seeds vectorised) → NPZ",
                       description="Run the finite-d simulator for one case: ε(τ) per seed on a log+linear time "
                                   "grid and weight snapshots; prints progress on long runs.")
    add_case_args(s)
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("solve", help="limit equations (PDE, ODEs, transport, particles) for one case → NPZ",
                       description="Solve the configured limits of one case: Fokker–Planck PDE (ε(τ), densities at "
                                   "the snapshot times, mass and positivity diagnostics), closed/Gaussian-closure "
                                   "ODEs, small-η transport limit, particle cross-check.")
    add_case_args(s)
    s.set_defaults(func=cmd_solve)

    s = sub.add_parser("compare", help="simulation vs theory for one experiment → curves + gap tables (TSV)",
                       description="Gap table (max and mean |Δε| of the seed mean vs every theory curve, seed "
                                   "spread, KS distance of densities) and the long curves table; plateau and "
                                   "bridge also write --extra (plateau lengths; gap vs η).")
    s.add_argument("--spec", required=True, help="JSON (or @file): the theory: config section")
    s.add_argument("--experiment", required=True, help="density, curves, plateau, variants or bridge")
    s.add_argument("--sim", nargs="+", required=True, help="simulation NPZ per case, in case order")
    s.add_argument("--theory", nargs="+", required=True, help="theory NPZ per case, in case order")
    s.add_argument("--curves", required=True, help="output TSV of ε curves")
    s.add_argument("--gaps", required=True, help="output TSV of simulation-vs-theory gaps")
    s.add_argument("--extra", help="output TSV: plateau lengths (plateau) or gap vs η (bridge)")
    s.set_defaults(func=cmd_compare)

    s = sub.add_parser("fixed-point", help="ε* over (b, ω) and η with the unquantized reference → TSV",
                       description="Self-consistent ε* (bracketing root finder), exact decomposition, small-noise "
                                   "closed form, saturation, deviation from ε*_0 = ησ²/(2 − η); plus long-horizon "
                                   "PDE checks of ε*.")
    s.add_argument("--spec", required=True, help="JSON (or @file): the theory: config section")
    s.add_argument("--out", required=True, help="output TSV of fixed points")
    s.add_argument("--checks", required=True, help="output TSV of ε* vs long-horizon PDE")
    s.set_defaults(func=cmd_fixed_point)

    s = sub.add_parser("sweep", help="learning-rate stability sweep, quantized vs unquantized → TSV",
                       description="ε after τ_max for each η: simulation and theory (PDE or closed ODE), "
                                   "quantized vs unquantized model.")
    s.add_argument("--spec", required=True, help="JSON (or @file): the theory: config section")
    s.add_argument("--experiment", default="stability", help="sweep name (stability)")
    s.add_argument("--out", required=True, help="output TSV")
    s.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    s.set_defaults(func=cmd_sweep)
