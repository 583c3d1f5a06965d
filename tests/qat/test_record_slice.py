"""Packing a finished record slice (``stelab record-slice``, :mod:`stelab.qat.record_slice`) and
the provenance of a search point (:mod:`stelab.qat.point_provenance`), which shares its fields.

The run folder is built here the way Snakemake leaves it: ``results/qat/`` with the rows,
``scatter.npz`` and checkpoints, ``results/benchmarks/qat/`` with one benchmark TSV per job and
``.snakemake/log/`` with one log per Snakemake run, named by its local start time and last written
at its end. Expected times are worked out by hand from the times set here.
"""

import hashlib
import json
import os
import time
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from stelab.cli import main
from stelab.qat import point_provenance
from stelab.qat.record_slice import SLICE_FILES, verify_preflight

STARTED = "2026-12-06T14:00:00Z"
CONFIGS = ["config/config.yaml", "config/paper.yaml"]


def _run_dir(tmp_path, runs):
    """A finished slice run with one Snakemake log per (local start 'YYYY-mm-ddTHH:MM:SS', seconds) in ``runs``."""
    run = tmp_path / "run"
    qat = run / "results" / "qat"
    (qat / "b2" / "qhat").mkdir(parents=True)
    for name in ("runs.tsv", "pairs.tsv", "tracking.tsv"):
        (qat / name).write_text(f"{name}\tcol\nrow\t1\n")
    np.savez(qat / "scatter.npz", momentum_adjusted_x=np.array([0.5]), momentum_adjusted_y=np.array([0.25]))
    (qat / "b2" / "qhat" / "final.pt").write_bytes(b"abc")
    bench = run / "results" / "benchmarks" / "qat" / "b2"
    bench.mkdir(parents=True)
    pd.DataFrame({"s": [12.5], "h:m:s": ["0:00:12"]}).to_csv(bench / "train.tsv", sep="\t", index=False)
    logs = run / ".snakemake" / "log"
    logs.mkdir(parents=True)
    for start, seconds in runs:
        t0 = datetime.strptime(start, "%Y-%m-%dT%H:%M:%S")
        log = logs / f"{t0.strftime('%Y-%m-%dT%H%M%S')}.123456.snakemake.log"
        log.write_text("Building DAG of jobs...\n")
        end = time.mktime(t0.timetuple()) + 0.123456 + seconds  # the name is local time, as Snakemake writes it
        os.utime(log, (end, end))
    code = tmp_path / "code"
    (code / "config").mkdir(parents=True)
    for c in CONFIGS:
        (code / c).write_text("a: 1\n")
    return run, code


def _args(tmp_path, run, code):
    out = tmp_path / "record" / "b2-seed0"
    args = ["record-slice", "--run-dir", str(run), "--out", str(out), "--code", str(code), "--commit", "c" * 40,
            "--threads", "1", "--command", "snakemake …", "--started", STARTED, "--wall", "300"]
    for c in CONFIGS:
        args += ["--config", c]
    return out, args


def _pack(tmp_path, run, code):
    out, args = _args(tmp_path, run, code)
    assert main(args) == 0
    return out, json.loads((out / "provenance.json").read_text())


def test_a_slice_run_once_keeps_the_runner_s_start_and_wall_time(tmp_path):
    run, code = _run_dir(tmp_path, [("2026-12-06T14:00:05", 290.0)])
    out, prov = _pack(tmp_path, run, code)
    assert sorted(p.name for p in out.iterdir()) == sorted(SLICE_FILES)
    assert prov["started"] == STARTED and prov["wall_s"] == 300.0 and "invocations" not in prov
    assert prov["job_wall_s"] == {"b2/train.tsv": 12.5}
    assert list(prov["configs"]) == CONFIGS  # Snakemake's order
    assert set(prov["configs"].values()) == {hashlib.sha256(b"a: 1\n").hexdigest()}
    assert prov["commit"] == "c" * 40 and prov["threads"] == 1 and prov["command"] == "snakemake …"
    assert (out / "checkpoints.sha256").read_text() == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  b2/qhat/final.pt\n")


def test_a_resumed_slice_sums_its_snakemake_runs_and_lists_them(tmp_path):
    """Killed after 1637 s, resumed: the earlier run's start and wall come from its log, this run's
    from the runner; ``started`` is the first start and ``wall_s`` the sum (1637 + 300). The logs are
    made newest first, so their order comes from their names."""
    run, code = _run_dir(tmp_path, [("2026-12-06T14:00:05", 290.0), ("2026-12-06T13:13:16", 1637.0)])
    _, prov = _pack(tmp_path, run, code)
    local = datetime.strptime("2026-12-06T13:13:16", "%Y-%m-%dT%H:%M:%S").timetuple()
    first = datetime.fromtimestamp(time.mktime(local), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(prov["invocations"]) == 2
    assert prov["invocations"][0]["started"] == first and prov["started"] == first
    assert prov["invocations"][0]["wall_s"] == 1637.0  # its log's last write less its name's time
    assert prov["invocations"][1] == {"started": STARTED, "wall_s": 300.0}
    assert prov["wall_s"] == 1937.0


def test_a_missing_row_table_writes_nothing(tmp_path, capsys):
    run, code = _run_dir(tmp_path, [("2026-12-06T14:00:05", 290.0)])
    (run / "results" / "qat" / "pairs.tsv").unlink()
    out, args = _args(tmp_path, run, code)
    assert main(args) == 2
    assert "pairs.tsv: missing; the slice has not finished" in capsys.readouterr().err
    assert not out.exists() and not list(out.parent.glob(".*"))


def test_a_resumed_search_point_s_provenance_has_the_slice_s_timing_and_its_config_names(tmp_path, capsys):
    run, code = _run_dir(tmp_path, [("2026-12-06T13:13:16", 1637.0), ("2026-12-06T14:00:05", 290.0)])
    (run / "results" / "tables").mkdir()
    (run / "results" / "tables" / "qat_table4.csv").write_text("experiment\n")
    configs = [str(code / c) for c in CONFIGS]
    args = [str(run), "--commit", "d" * 40, "--started", STARTED, "--wall", "300"]
    assert point_provenance.main(args + [a for c in configs for a in ("--config", c)]) == 0
    prov = json.loads((run / "provenance.json").read_text())
    assert list(prov["configs"]) == ["config.yaml", "paper.yaml"]
    assert prov["commit"] == "d" * 40 and prov["cores"] == 1 and prov["threads_per_job"] == 1
    assert prov["wall_s"] == 1937.0 and [r["wall_s"] for r in prov["invocations"]] == [1637.0, 300.0]
    assert prov["job_wall_s"] == {"b2/train.tsv": 12.5}
    twice = [a for c in (configs[0], configs[0]) for a in ("--config", c)]
    (run / "provenance.json").unlink()
    assert point_provenance.main(args + twice) == 2
    assert "config file names repeat: ['config.yaml', 'config.yaml']" in capsys.readouterr().err
    assert not (run / "provenance.json").exists()


def _provenance(tmp_path, configs, **fields):
    path = tmp_path / "provenance.json"
    path.write_text(json.dumps({"commit": "c" * 40, "configs": configs, **fields}))
    return path


def test_preflight_refuses_configs_other_than_the_provenance_s(tmp_path):
    _, code = _run_dir(tmp_path, [])
    digest = hashlib.sha256(b"a: 1\n").hexdigest()
    same = _provenance(tmp_path, {c: digest for c in CONFIGS})
    assert verify_preflight(same, code, CONFIGS, threads=1)[0] == []
    assert verify_preflight(same, code, CONFIGS[::-1], threads=1)[0] == [
        f"configs: the slice ran {CONFIGS}, this regeneration would give {CONFIGS[::-1]}"]
    (code / CONFIGS[1]).write_text("a: 2\n")
    changed = hashlib.sha256(b"a: 2\n").hexdigest()
    assert verify_preflight(same, code, CONFIGS, threads=1)[0] == [
        f"{CONFIGS[1]}: sha256 {changed} at the commit, {digest} in provenance.json"]
    (code / CONFIGS[1]).unlink()
    assert verify_preflight(same, code, CONFIGS, threads=1)[0] == [
        f"{CONFIGS[1]}: sha256 missing at the commit, {digest} in provenance.json"]


def test_preflight_warns_of_another_torch_build_cpu_or_thread_count(tmp_path, capsys):
    import torch

    _, code = _run_dir(tmp_path, [])
    digest = hashlib.sha256(b"a: 1\n").hexdigest()
    prov = _provenance(tmp_path, {c: digest for c in CONFIGS}, threads=1, torch="2.0.0+cpu", cpu="Other CPU (AVX2)")
    errors, warnings = verify_preflight(prov, code, CONFIGS, threads=2)
    assert errors == []
    assert [w.split(":")[0] for w in warnings] == ["threads", "torch", "cpu"]
    assert warnings[1] == f"torch: '2.0.0+cpu' in provenance.json, {torch.__version__!r} here"
    args = ["record-preflight", "--provenance", str(prov), "--code", str(code), "--threads", "2"]
    assert main(args + [a for c in CONFIGS for a in ("--config", c)]) == 0
    assert "warning: torch: '2.0.0+cpu' in provenance.json" in capsys.readouterr().err


def test_preflight_refuses_a_file_that_is_not_a_slice_s_provenance(tmp_path, capsys):
    prov = tmp_path / "provenance.json"
    prov.write_text('{"commit": "x"}')
    args = ["record-preflight", "--provenance", str(prov), "--code", str(tmp_path), "--config", "a", "--threads", "1"]
    assert main(args) == 2
    assert f"{prov}: no configs (not a record slice's provenance.json)" in capsys.readouterr().err


def test_an_unfinished_point_gets_no_provenance(tmp_path, capsys):
    run, code = _run_dir(tmp_path, [("2026-12-06T14:00:05", 290.0)])
    args = [str(run), "--commit", "d" * 40, "--started", STARTED, "--wall", "300", "--config", str(code / CONFIGS[0])]
    assert point_provenance.main(args) == 2
    assert "has the point finished?" in capsys.readouterr().err
    assert not (run / "provenance.json").exists()
