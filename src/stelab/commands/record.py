"""Record commands (paper A, arXiv 2405.05171, Tables 3–5 over seeds): ``record-slice``,
``record-preflight``, ``record-tables``.

``docs/reproduction/mnist/record/run_slice.sh`` runs one (bits, seed) slice of the paper-scale
record from a frozen copy of a commit and calls ``stelab record-slice`` to pack it for git
(:mod:`stelab.qat.record_slice`); ``stelab record-tables`` assembles the tables and figures from
every slice committed so far (:mod:`stelab.qat.record`).
"""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "record-slice",
        help="pack a finished record slice (rows, checkpoint sha256, provenance) for git",
        description=(
            "Copy runs.tsv, pairs.tsv and tracking.tsv of a finished slice's results/qat/, write the Fig. 3 "
            "sample as scatter.tsv, the sha256 of every checkpoint (sha256sum format, paths relative to "
            "results/qat/) and provenance.json (commit, configs with sha256, threads, versions, CPU, "
            "command, wall time of every job) into --out. Nothing is written unless every file can be."
        ),
    )
    p.add_argument("--run-dir", required=True, help="the slice's Snakemake working directory")
    p.add_argument("--out", required=True, help="folder to write, e.g. docs/reproduction/mnist/record/b2-seed0")
    _code_and_configs(p, "the frozen copy of the commit the slice ran from", "given to Snakemake", "threads per job")
    p.add_argument("--commit", required=True, help="that commit's full hash")
    p.add_argument("--command", required=True, dest="command_line", help="the snakemake command line")
    p.add_argument("--started", required=True, help="UTC start time (ISO 8601)")
    p.add_argument("--wall", type=float, required=True, help="wall seconds of the whole slice")
    p.set_defaults(func=_record_slice)

    p = subparsers.add_parser(
        "record-preflight",
        help="before regenerating a committed slice: its configs by sha256, this machine against its provenance",
        description=(
            "Compare the configs a regeneration of a record slice would run (--config, read from the frozen "
            "copy --code of its commit) with provenance.json's, by name, order and sha256 (exit 1 on a "
            "difference: it would run something else), and this machine's threads, torch build and CPU "
            "kernels with provenance.json's (printed as warnings: bit-identity needs them equal)."
        ),
    )
    p.add_argument("--provenance", required=True, help="the committed slice's provenance.json")
    _code_and_configs(p, "the frozen copy of the commit it names", "the regeneration gives to Snakemake",
                      "threads per job of the regeneration")
    p.set_defaults(func=_record_preflight)

    p = subparsers.add_parser(
        "record-tables",
        help="assemble the record's Tables 3–5, claims with intervals and figures from its slices",
        description=(
            "Read every slice folder b<bits>-seed<k>/ of --record and write tables/ (Tables 3–5 as mean ± sd "
            "with n seeds per bit width, claims A and B as geometric-mean ratios with 95 % t-intervals and "
            "their rule, Q̂ − STE differences with intervals, the slices' commits and wall times; CSV and "
            "LaTeX; tables/summary.md in Markdown, which --readme also puts into a README) and figures/ (Ē over "
            "training, the Fig. 3 scatter; PDF, SVG, PNG)."
        ),
    )
    p.add_argument("--record", default=None,
                   help="the record folder (default: docs/reproduction/mnist/record, relative to the repository root)")
    p.add_argument("--readme", default=None,
                   help="also put the summary (tables/summary.md) between the record-tables markers of this "
                        "Markdown file, e.g. README.md")
    p.set_defaults(func=_record_tables)


def _code_and_configs(p, code_help: str, config_use: str, threads_help: str) -> None:
    """--code, --config (repeatable, in order) and --threads, shared by record-slice and record-preflight."""
    p.add_argument("--code", required=True, help=code_help)
    p.add_argument("--config", action="append", required=True, dest="configs",
                   help=f"a config file {config_use}, repository-relative, in order (repeat)")
    p.add_argument("--threads", type=int, required=True, help=threads_help)


def _record_slice(args) -> int:
    from ..qat.record_slice import pack_slice

    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    out = pack_slice(args.run_dir, args.out, code_dir=args.code, commit=args.commit, configs=args.configs,
                     threads=args.threads, command=args.command_line, started=args.started, wall_s=args.wall)
    print(f"record slice packed in {out}")
    return 0


def _record_preflight(args) -> int:
    import sys

    from ..qat.record_slice import verify_preflight

    errors, warnings = verify_preflight(args.provenance, args.code, args.configs, threads=args.threads)
    for w in warnings:
        print(f"warning: {w} (the bytes will differ; the tables should agree within their seed spread)",
              file=sys.stderr)
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if not errors:
        print(f"{args.provenance}: the regeneration runs the configs it names"
              + ("" if warnings else ", on the same threads, torch build and CPU kernels"))
    return 1 if errors else 0


def _record_tables(args) -> int:
    from ..qat.record import assemble_record, record_folder
    from ..qat.record_summary import write_summary

    record = record_folder(args.record)
    tables = assemble_record(record)
    summary = write_summary(record, args.readme)
    claims = tables["claims"]
    for row in claims.itertuples():
        print(f"{row.bits} bit {row.optimizer} claim {row.claim}: ratio {row.ratio:.3g} "
              f"[{row.ratio_lo:.3g}, {row.ratio_hi:.3g}] over {row.n_seeds} seed(s): {row.verdict}")
    print(f"record tables and figures written under {record}; summary {summary}"
          + (f", also in {args.readme}" if args.readme else ""))
    return 0
