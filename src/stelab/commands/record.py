"""Record commands (paper A, arXiv 2405.05171, Tables 3–5 over seeds): ``record-slice``.

``docs/reproduction/mnist/record/run_slice.sh`` runs one (bits, seed) slice of the paper-scale
record from a frozen copy of a commit and calls ``stelab record-slice`` to pack it for git
(:mod:`stelab.qat.record_slice`).
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
    p.add_argument("--code", required=True, help="the frozen copy of the commit the slice ran from")
    p.add_argument("--commit", required=True, help="that commit's full hash")
    p.add_argument("--config", action="append", required=True, dest="configs",
                   help="a config file given to Snakemake, repository-relative, in order (repeat)")
    p.add_argument("--threads", type=int, required=True, help="threads per job")
    p.add_argument("--command", required=True, dest="command_line", help="the snakemake command line")
    p.add_argument("--started", required=True, help="UTC start time (ISO 8601)")
    p.add_argument("--wall", type=float, required=True, help="wall seconds of the whole slice")
    p.set_defaults(func=_record_slice)


def _record_slice(args) -> int:
    from ..qat.record_slice import pack_slice

    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    out = pack_slice(args.run_dir, args.out, code_dir=args.code, commit=args.commit, configs=args.configs,
                     threads=args.threads, command=args.command_line, started=args.started, wall_s=args.wall)
    print(f"record slice packed in {out}")
    return 0
