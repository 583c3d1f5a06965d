"""One slice of the paper-scale record: a finished (bits, seed) run packed for git.

Paper A (arXiv 2405.05171) reports Tables 3–5 over 5 seeds; the record runs them one
(bits, seed) *slice* at a time (``docs/reproduction/mnist/record/run_slice.sh``) and commits each
slice as plain files, never the ``.pt`` checkpoints:

``runs.tsv``, ``pairs.tsv``, ``tracking.tsv``
    the rows ``stelab compare`` wrote for the slice (Tables 3–5, Ē over training);
``scatter.tsv``
    the Fig. 3 sample (``optimizer``, ``pair``, ``x``, ``y``: weights over the range half-width m);
``checkpoints.sha256``
    ``sha256sum`` lines of every checkpoint under ``results/qat/`` (paths relative to it), so a
    regeneration can be checked with ``sha256sum -c``;
``provenance.json``
    ``commit``, ``configs`` (repository-relative path → sha256, in the order given to
    Snakemake), ``threads``, ``python``, ``torch``, ``cpu`` (model and kernel instruction set), ``command`` (the snakemake command
    line), ``started``, ``wall_s`` and ``job_wall_s`` (every job's seconds, from Snakemake's
    benchmark files). A slice resumed after a kill also has ``invocations`` (each Snakemake run's
    start and wall seconds: the earlier ones from Snakemake's own logs under ``.snakemake/log/``,
    named by their start and last written at their end); then ``started`` is the first start and
    ``wall_s`` the sum, and a job that was killed and resumed counts its last run only in
    ``job_wall_s``.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import write_table, write_text

#: the row tables of a slice, as ``stelab compare`` names them under results/qat/
ROW_TABLES = ("runs.tsv", "pairs.tsv", "tracking.tsv")
#: everything a packed slice holds
SLICE_FILES = (*ROW_TABLES, "scatter.tsv", "checkpoints.sha256", "provenance.json")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkpoint_sums(qat_dir: Path) -> str:
    """``sha256sum`` lines of every ``.pt`` under ``qat_dir`` (sorted, paths relative to it)."""
    paths = sorted(p for p in qat_dir.rglob("*.pt") if p.is_file())
    if not paths:
        raise ValueError(f"{qat_dir}: no checkpoint (.pt) files; has the slice finished?")
    return "".join(f"{sha256_file(p)}  {p.relative_to(qat_dir).as_posix()}\n" for p in paths)


def scatter_table(npz: Path) -> pd.DataFrame:
    """The Fig. 3 arrays of ``stelab compare`` (``{opt}_{adjusted|unadjusted}_{x|y}``) as long rows."""
    rows = []
    with np.load(npz) as z:
        for key in sorted(k for k in z.files if k.endswith("_x")):
            optimizer, pair = key[:-2].rsplit("_", 1)
            x, y = z[key], z[f"{key[:-2]}_y"]
            rows.append(pd.DataFrame({"optimizer": optimizer, "pair": pair, "x": x, "y": y}))
    if not rows:
        raise ValueError(f"{npz}: no scatter arrays")
    return pd.concat(rows, ignore_index=True)


def cpu_name() -> str:
    """The CPU's model name with the instruction set torch's kernels dispatch to, e.g. ``AMD EPYC
    (AVX512)``: bit-identical regeneration needs the same kernels (:func:`stelab.qat.device.device_name`)."""
    import torch

    return f"{_cpu_model()} ({torch.backends.cpu.get_cpu_capability()})"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def job_walls(bench_dir: Path) -> dict:
    """{job file relative to ``bench_dir``: wall seconds} from Snakemake's benchmark TSVs."""
    out = {}
    for f in sorted(bench_dir.rglob("*.tsv")):
        table = pd.read_csv(f, sep="\t")
        out[f.relative_to(bench_dir).as_posix()] = float(table["s"].iloc[0])
    return out


def _utc(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def snakemake_runs(run_dir: Path) -> list[dict]:
    """Every Snakemake run in ``run_dir``, oldest first: ``{"started", "wall_s"}`` from its log
    ``.snakemake/log/<local start %Y-%m-%dT%H%M%S.%f>.snakemake.log``, last written at its end (or kill)."""
    runs = []
    for log in (Path(run_dir) / ".snakemake" / "log").glob("*.snakemake.log"):
        try:
            start = datetime.strptime(log.name.removesuffix(".snakemake.log"), "%Y-%m-%dT%H%M%S.%f").astimezone()
        except ValueError:
            continue
        end = datetime.fromtimestamp(log.stat().st_mtime, timezone.utc)
        runs.append((start, {"started": _utc(start), "wall_s": round(max((end - start).total_seconds(), 0.0), 1)}))
    return [run for _, run in sorted(runs, key=lambda r: r[0])]


def timing(run_dir: Path, started: str, wall_s: float) -> dict:
    """``started``/``wall_s`` of this run; with earlier Snakemake runs in ``run_dir`` (a resumed
    slice), the first start, the summed wall time and ``invocations``, this run last."""
    this = {"started": started, "wall_s": round(float(wall_s), 1)}
    earlier = snakemake_runs(run_dir)[:-1]  # the newest log is this run's
    if not earlier:
        return this
    runs = [*earlier, this]
    return {"started": runs[0]["started"], "wall_s": round(sum(r["wall_s"] for r in runs), 1), "invocations": runs}


def pack_slice(run_dir, out_dir, *, code_dir, commit: str, configs, threads: int, command: str,
               started: str, wall_s: float) -> Path:
    """Pack the finished run in ``run_dir`` into ``out_dir`` (see the module docstring).

    ``configs``: repository-relative config paths in Snakemake's order, read from the frozen
    copy ``code_dir`` of ``commit`` for their sha256. Every file is written to a temporary
    folder first; ``out_dir`` appears only once all of them exist.
    """
    import torch

    run_dir, out_dir, code_dir = Path(run_dir), Path(out_dir), Path(code_dir)
    qat = run_dir / "results" / "qat"
    for name in (*ROW_TABLES, "scatter.npz"):
        if not (qat / name).is_file():
            raise ValueError(f"{qat / name}: missing; the slice has not finished")
    info = {"commit": commit,
            "configs": {c: sha256_file(code_dir / c) for c in configs},
            "threads": int(threads), "python": platform.python_version(), "torch": torch.__version__,
            "cpu": cpu_name(), "command": command, **timing(run_dir, started, wall_s),
            "job_wall_s": job_walls(run_dir / "results" / "benchmarks" / "qat")}
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ROW_TABLES:
        shutil.copyfile(qat / name, tmp / name)
    write_table(tmp / "scatter.tsv", scatter_table(qat / "scatter.npz"))
    write_text(tmp / "checkpoints.sha256", checkpoint_sums(qat))
    write_text(tmp / "provenance.json", json.dumps(info, indent=1) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir


def verify_preflight(provenance, code_dir, configs, *, threads: int) -> tuple[list[str], list[str]]:
    """Before regenerating a committed slice: (errors, warnings).

    Errors: the configs the regeneration would use (``configs``, repository-relative, in order,
    read from the frozen copy ``code_dir`` of the commit) are not the ones ``provenance.json``
    names with their sha256 — it would run something else. Warnings: what bit-identity needs and
    this machine differs in (``threads``, ``torch``, ``cpu``): the bytes will then differ while the
    tables should agree within their seed spread.
    """
    import torch

    prov = json.loads(Path(provenance).read_text())
    missing = [k for k in ("commit", "configs") if not isinstance(prov, dict) or k not in prov]
    if missing:
        raise ValueError(f"{provenance}: no {', '.join(missing)} (not a record slice's provenance.json)")
    code_dir = Path(code_dir)
    errors, warnings = [], []
    if list(prov["configs"]) != list(configs):
        errors.append(f"configs: the slice ran {list(prov['configs'])}, this regeneration would give {list(configs)}")
    for c, digest in prov["configs"].items():
        path = code_dir / c
        got = sha256_file(path) if path.is_file() else "missing"
        if got != digest:
            errors.append(f"{c}: sha256 {got} at the commit, {digest} in provenance.json")
    here = {"threads": int(threads), "torch": torch.__version__, "cpu": cpu_name()}
    for key, value in here.items():
        then = prov.get(key)
        if key == "cpu" and then is not None and "(" not in str(then):
            value = _cpu_model()  # packed before the instruction set was recorded: compare the model
        if then is not None and then != value:
            warnings.append(f"{key}: {then!r} in provenance.json, {value!r} here")
    return errors, warnings
