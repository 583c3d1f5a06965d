"""The provenance of a finished search or ablation point (``docs/reproduction/mnist/run_search.sh``).

A point (``runs/search/<point>/``) is a Snakemake run of ``config/paper.yaml`` with one overlay,
from a frozen copy of a commit, one job at a time on one core. Its ``provenance.json`` holds
``commit``, ``started``, ``wall_s`` (summed over the Snakemake runs of a point resumed after a
kill, which ``invocations`` then lists: :func:`stelab.qat.record_slice.timing`), ``cores``,
``threads_per_job``, ``configs`` (file name → sha256, in Snakemake's order), ``python``,
``torch``, ``cpu`` (model and kernel instruction set) and ``job_wall_s`` (every job's seconds,
from Snakemake's benchmark files) — the fields of a record slice's provenance
(:mod:`stelab.qat.record_slice`), read by ``python -m stelab.qat.search`` and ``stelab.qat.ablation``.

    python -m stelab.qat.point_provenance runs/search/paper-no-wd --commit <sha> \\
        --started 2026-12-06T14:00:00Z --wall 5400 --config <frozen copy>/config/config.yaml ...
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

from ..io import write_text
from .record_slice import cpu_name, job_walls, sha256_file, timing
from .search import run_main


def point_provenance(point_dir, *, commit: str, configs, started: str, wall_s: float) -> dict:
    """The provenance of the finished point in ``point_dir`` (see the module docstring)."""
    import torch

    point_dir = Path(point_dir)
    table = point_dir / "results" / "tables" / "qat_table4.csv"
    walls = job_walls(point_dir / "results" / "benchmarks" / "qat")
    if not table.is_file() or not walls:
        raise ValueError(f"{point_dir}: no {table.relative_to(point_dir)} or no job benchmark files; "
                         "has the point finished?")
    names = [Path(c).name for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"config file names repeat: {names}")
    return {"commit": commit, **timing(point_dir, started, wall_s), "cores": 1, "threads_per_job": 1,
            "configs": {Path(c).name: sha256_file(Path(c)) for c in configs},
            "python": platform.python_version(), "torch": torch.__version__, "cpu": cpu_name(),
            "job_wall_s": walls}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m stelab.qat.point_provenance", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("point", help="the finished point's folder (runs/search/<point>); provenance.json is written there")
    ap.add_argument("--commit", required=True, help="the commit the point ran from")
    ap.add_argument("--config", action="append", required=True, dest="configs",
                    help="a config file given to Snakemake, in order (repeat)")
    ap.add_argument("--started", required=True, help="UTC start of this Snakemake run (ISO 8601)")
    ap.add_argument("--wall", type=float, required=True, help="wall seconds of this Snakemake run")
    return run_main(ap, argv, _write)


def _write(args) -> int:
    info = point_provenance(args.point, commit=args.commit, configs=args.configs, started=args.started,
                            wall_s=args.wall)
    path = Path(args.point) / "provenance.json"
    write_text(path, json.dumps(info, indent=1) + "\n")
    print(f"provenance written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
