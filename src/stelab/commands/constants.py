"""``stelab constants``: Theorem 5.1 constants, App. H, and the estimator curves."""

from __future__ import annotations

import argparse
import json


def _labelled(specs: list[dict]) -> dict:
    """{label: spec} of the --estimator options: the name, or name,key=value,... where a name repeats;
    the same estimator given twice is refused (ValueError naming it)."""
    names = [spec["name"] for spec in specs]
    out = {}
    for spec in specs:
        label = spec["name"]
        if names.count(label) > 1:
            label = ",".join([label, *(f"{k}={v}" for k, v in spec.items() if k != "name")])
        if label in out:
            raise ValueError(f"--estimator {label}: given twice")
        out[label] = spec
    return out


def _estimator_arg(text: str) -> dict:
    """NAME[,key=value,...] or JSON → estimator spec dict."""
    from ..estimators import parse_estimator_spec

    text = text.strip()
    if text.startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(f"not valid JSON ({exc})") from None
    try:
        return parse_estimator_spec(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _spec_section(text: str, plot_bits: int) -> dict:
    """--spec: the config's ``constants`` section as JSON (``plot_bits`` where it has none), validated as the
    config is (errors name the key)."""
    from ..config import validate_section

    try:
        section = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--spec: not valid JSON ({exc}); give the config's 'constants' section as JSON") from None
    if isinstance(section, dict):
        section.setdefault("plot_bits", plot_bits)
    return validate_section("constants", section)


def register(sub) -> None:
    p = sub.add_parser(
        "constants",
        help="estimator constants L−, L+, L′, α, L′L+/(2L−²) (paper A Thm 5.1, App. H)",
        description=(
            "Compute, for every estimator and layer quantizer, the constants of paper A's Theorem 5.1 from "
            "the estimator's own definition: L− = min Q̂', L+ = max Q̂', L′ = max |Q̂''| (Lipschitz constant of "
            "Q̂'), α = Δ/∫ds/Q̂' over a bin (eq. 4), the convexity-error coefficient L′L+/(2L−²) (eq. 6), and the "
            "assumption checks 5.1.1/5.1.2. Writes a JSON list and a TSV table. Either give --spec (the config's "
            "'constants' section as JSON, as the workflow does) or --estimator and --bits."
        ),
        epilog=(
            "examples:\n"
            "  stelab constants --estimator htge,k0=5.5 --bits 2 --json htge.json\n"
            "  stelab constants --estimator '{\"name\": \"dsq\", \"alpha_dsq\": 0.2}' --bits 2 4 --tsv dsq.tsv\n"
            "  stelab constants --spec \"$(python -c 'import yaml,json;print(json.dumps(yaml.safe_load("
            "open(\"config/config.yaml\"))[\"constants\"]))')\" --json c.json --app-h app_h.tsv"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--spec", help="JSON of the config's 'constants' section ({estimators: {...}, layers: [...]})")
    p.add_argument(
        "--estimator",
        action="append",
        type=_estimator_arg,
        metavar="SPEC",
        help="estimator as NAME, NAME,key=value,..., a dotted path pkg.mod:func[,key=value], or JSON; repeatable",
    )
    p.add_argument("--bits", type=int, nargs="+", default=[2], help="bit widths (default: 2)")
    p.add_argument("--m", type=float, default=1.0, help="range half-width m (default: 1.0)")
    p.add_argument("--layout", default="range", choices=["range", "signed_int", "midtread"], help="level layout")
    p.add_argument("--json", help="write the constants as a JSON list of records here")
    p.add_argument("--tsv", help="write the constants table as TSV here")
    p.add_argument("--app-h", help="write paper A App. H recomputed beside the printed values (TSV)")
    p.add_argument("--curves", help="write Q̂, Q̂', Q and M(w) curves of every estimator (TSV, for Fig. 1)")
    p.add_argument("--plot-bits", type=int, default=2, help="bit width of the quantizer for --curves (default: 2)")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np

    from ..constants.table import (
        CONFIG_KEY,
        app_h_table,
        constants_table,
        curve_cases,
        estimator_curves,
        table_cases,
        validate_cases,
    )
    from ..io import write_json, write_table

    if args.spec:
        section = _spec_section(args.spec, args.plot_bits)
        estimators, layers = section["estimators"], section["layers"]
        plot_bits, named = section["plot_bits"], CONFIG_KEY
    elif args.estimator:
        estimators = _labelled(args.estimator)
        layers = [{"bits": b, "m": args.m, "layout": args.layout} for b in args.bits]
        plot_bits, named = args.plot_bits, "--estimator {label}"
    else:
        raise ValueError("give --spec or at least one --estimator (see stelab constants --help)")
    cases = table_cases(estimators, layers) + (curve_cases(estimators, plot_bits) if args.curves else [])
    validate_cases(cases, named)
    table = constants_table(estimators, layers, named)
    for row in table.itertuples():
        print(f"{row.label:>16} b={row.bits} α={row.alpha:.6g} L−={row.L_minus:.4g} L+={row.L_plus:.4g} "
              f"L′={row.L_prime:.4g} L′L+/(2L−²)={row.convexity_coeff:.4g} 5.1.1: {row.assumption_5_1_1}")
    if args.json:
        records = table.replace({np.inf: None}).to_dict(orient="records")
        write_json(args.json, records)
    if args.tsv:
        write_table(args.tsv, table)
    if args.app_h:
        write_table(args.app_h, app_h_table())
    if args.curves:
        write_table(args.curves, estimator_curves(estimators, plot_bits))
    return 0
