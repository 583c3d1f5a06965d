"""The workflow files are formatted the way the Snakemake community formats them (snakefmt)."""

import subprocess

from helpers import BIN, REPO


def test_workflow_files_are_snakefmt_clean():
    files = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    assert len(files) >= 7
    proc = subprocess.run([str(BIN / "snakefmt"), "--check", "--diff", *map(str, files)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
