"""``stelab <command>``: the one entry point every Snakemake rule calls.

Each command group lives in a module that exposes ``register(subparsers)``; the modules
import heavy dependencies (torch) only inside their handlers so that ``--help`` is fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

COMMAND_MODULES = (
    "stelab.commands.constants",
    "stelab.commands.config_docs",
    "stelab.commands.data",
    "stelab.commands.figures",
    "stelab.commands.qat",
    "stelab.commands.record",
    "stelab.commands.report",
    "stelab.commands.theory",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stelab",
        description=(
            "Straight-through-estimator lab: estimator constants, QAT pretraining/fork/branches, "
            "alignment metrics, high-dimensional theory, and the HTML report. "
            "Every Snakemake rule of the workflow calls one of these commands."
        ),
    )
    parser.add_argument("--version", action="version", version=f"stelab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError, KeyError) as exc:
        print(f"stelab {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
