"""``stelab figures constants|qat|theory``: every report figure as PDF, SVG and PNG files for a paper.

Each subcommand reads the results files the report notebooks read, draws them with the track's plot
functions (under the theme of :mod:`stelab.report.theme`) and writes ``OUT_DIR/<name>.{pdf,svg,png}``
atomically. The figure names are defined here once (the rule file ``workflow/rules/figures.smk``
imports them); which figures are written follows from the inputs given.
"""

from __future__ import annotations

import argparse
from pathlib import Path

#: constants track (paper A, arXiv 2405.05171): Fig. 1 (Q̂, Q̂') and the weight map M(w) of eq. 4
CONSTANTS_FIGURES = {"estimators": "fig1_estimators", "weight_maps": "weight_maps"}
#: QAT track (paper A §6): Fig. 3 weight scatter, Ē over training, Ē against the learning-rate factor
QAT_FIGURES = {"scatter": "fig3_weight_scatter", "tracking": "E_bar_over_training", "sweep": "lr_sweep"}
#: theory track (paper B, arXiv 2510.10693): one figure per sweep or table, plus error curves per experiment
THEORY_FIGURES = {"density": "densities", "plateau": "plateau", "fixed_points": "fixed_points",
                  "stability": "stability", "bridge": "bridge"}
#: name of the ε(τ) figure of one case experiment
ERROR_CURVES_FIGURE = "error_curves_{experiment}"


def error_curves_figure(experiment: str) -> str:
    return ERROR_CURVES_FIGURE.format(experiment=experiment)


def _experiment_path(text: str) -> tuple[str, str]:
    """EXPERIMENT=PATH → (experiment, path)."""
    experiment, sep, path = text.partition("=")
    if not sep or not experiment or not path:
        raise argparse.ArgumentTypeError(f"--curves {text!r} is not EXPERIMENT=PATH")
    return experiment, path


def register(sub) -> None:
    p = sub.add_parser(
        "figures",
        help="write the report figures as PDF, SVG and PNG (one subcommand per track)",
        description="Draw a track's report figures from its results files and write each as "
                    "OUT_DIR/NAME.pdf, NAME.svg and NAME.png (atomically, no timestamps in the vector files).",
    )
    fsub = p.add_subparsers(dest="figures_command", metavar="<track>", required=True)

    c = fsub.add_parser("constants", help=f"{', '.join(CONSTANTS_FIGURES.values())} from the estimator curves",
                        description="Fig. 1 of paper A (Q, Q̂ and Q̂' of every estimator) and the weight maps M(w) "
                                    "with α, from the --curves TSV of `stelab constants`.")
    c.add_argument("--curves", required=True, help="estimator curves TSV (`stelab constants --curves`)")
    c.set_defaults(func=_constants)

    q = fsub.add_parser("qat", help=f"{', '.join(QAT_FIGURES.values())} from `stelab compare`/`qat-tables` output",
                        description="Fig. 3 (Q̂-net vs STE-net weights, a row per optimizer), Ē and agreement over "
                                    "training, and (with --sweep) Ē against the learning-rate factor; every Ē "
                                    "normalisation present in the inputs is drawn.")
    q.add_argument("--scatter", required=True, help="Fig. 3 weight pairs (.npz from `stelab compare`)")
    q.add_argument("--tracking", required=True, help="Ē and agreement over training (.tsv from `stelab compare`)")
    q.add_argument("--sweep", help="learning-rate sweep table (qat_lr_sweep.csv from `stelab qat-tables`)")
    q.add_argument("--sweep-fit", help="its log-log fit (qat_lr_sweep_fit.json); required with --sweep")
    q.set_defaults(func=_qat)

    t = fsub.add_parser("theory", help="error curves, densities, plateau, fixed points, stability, bridge",
                        description="Simulation beside the limit equations: ε curves per case experiment "
                                    f"({ERROR_CURVES_FIGURE}), and each figure whose inputs are given.")
    t.add_argument("--curves", action="append", type=_experiment_path, default=[], metavar="EXPERIMENT=TSV",
                   help="curves TSV of one case experiment (`stelab theory compare --curves`); repeatable")
    t.add_argument("--density", nargs=2, metavar=("SIM", "THEORY"), help="sim.npz and theory.npz of the density case")
    t.add_argument("--plateau", metavar="TSV", help="plateau table (`theory compare --experiment plateau --extra`)")
    t.add_argument("--fixed-points", metavar="TSV", help="fixed-point table (`stelab theory fixed-point --out`)")
    t.add_argument("--stability", metavar="TSV", help="stability table (`stelab theory sweep --experiment stability`)")
    t.add_argument("--bridge", nargs=2, metavar=("CURVES", "TABLE"), help="bridge curves TSV and bridge table TSV")
    t.set_defaults(func=_theory)

    for parser in (c, q, t):
        parser.add_argument("--out-dir", required=True, help="folder for NAME.pdf, NAME.svg, NAME.png")


def _read_table(path: str):
    import pandas as pd

    if not Path(path).is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    try:
        return pd.read_csv(path, sep="," if path.endswith(".csv") else "\t")
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"input file {path} is not a readable table ({exc})") from None


def _read_npz(path: str) -> dict:
    import numpy as np

    if not Path(path).is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (ValueError, OSError, AttributeError) as exc:
        raise ValueError(f"input file {path} is not an .npz archive of arrays ({exc})") from None


def _read_json(path: str):
    import json

    if not Path(path).is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    try:
        return json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"input file {path} is not valid JSON ({exc})") from None


def _draw(out_dir: str, name: str, plot, *inputs: str) -> None:
    """Draw one figure and save it; a plot error names the input files."""
    import matplotlib.pyplot as plt

    from ..report.theme import save_figure

    try:
        fig = plot()
    except KeyError as exc:
        raise ValueError(f"figure {name} from {', '.join(inputs)}: the input has no column or entry {exc} "
                         "(is it the file this figure is drawn from?)") from None
    except ValueError as exc:
        raise ValueError(f"figure {name} from {', '.join(inputs)}: {exc}") from exc
    paths = save_figure(fig, out_dir, name)
    plt.close(fig)
    print(f"figure {name}: {', '.join(str(p) for p in paths)}")


def _constants(args) -> int:
    from ..constants.plots import plot_estimators, plot_weight_maps

    curves = _read_table(args.curves)
    _draw(args.out_dir, CONSTANTS_FIGURES["estimators"], lambda: plot_estimators(curves), args.curves)
    _draw(args.out_dir, CONSTANTS_FIGURES["weight_maps"], lambda: plot_weight_maps(curves), args.curves)
    return 0


def _qat(args) -> int:
    from ..qat.plots import plot_lr_sweep, plot_tracking, plot_weight_scatter

    if bool(args.sweep) != bool(args.sweep_fit):
        raise ValueError("give --sweep and --sweep-fit together")
    scatter, tracking = _read_npz(args.scatter), _read_table(args.tracking)
    _draw(args.out_dir, QAT_FIGURES["scatter"], lambda: plot_weight_scatter(scatter), args.scatter)
    _draw(args.out_dir, QAT_FIGURES["tracking"], lambda: plot_tracking(tracking), args.tracking)
    if args.sweep:
        sweep, fits = _read_table(args.sweep), _read_json(args.sweep_fit)
        _draw(args.out_dir, QAT_FIGURES["sweep"], lambda: plot_lr_sweep(sweep, fits), args.sweep, args.sweep_fit)
    return 0


def _theory(args) -> int:
    from ..theory import plots

    figures = [(error_curves_figure(exp), lambda p=path: plots.plot_error_curves(_read_table(p)), [path])
               for exp, path in args.curves]
    if args.density:
        sim, theory = args.density
        figures.append((THEORY_FIGURES["density"],
                        lambda: plots.plot_densities(_read_npz(sim), _read_npz(theory)), [sim, theory]))
    for key, plot in (("plateau", plots.plot_plateau), ("fixed_points", plots.plot_fixed_points),
                      ("stability", plots.plot_stability)):
        path = getattr(args, key)
        if path:
            figures.append((THEORY_FIGURES[key], lambda p=path, f=plot: f(_read_table(p)), [path]))
    if args.bridge:
        curves, table = args.bridge
        figures.append((THEORY_FIGURES["bridge"],
                        lambda: plots.plot_bridge(_read_table(curves), _read_table(table)), [curves, table]))
    if not figures:
        raise ValueError("no theory inputs given (see stelab figures theory --help)")
    for name, plot, inputs in figures:
        _draw(args.out_dir, name, plot, *inputs)
    return 0
