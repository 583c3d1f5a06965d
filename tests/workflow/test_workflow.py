"""The whole DAG on the smoke config, end to end, as CI runs it."""

import json
import re

import pandas as pd
import pytest

from helpers import snakemake

pytestmark = pytest.mark.slow


def _images(html: str) -> int:
    return len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", html))


def test_report_index_links_every_page(smoke_run):
    index = (smoke_run / "report" / "index.html").read_text()
    for page in ("constants.html", "qat.html", "theory.html"):
        assert f'href="{page}"' in index
        assert (smoke_run / "report" / page).is_file()
        assert (smoke_run / "results" / "notebooks" / page.replace(".html", ".ipynb")).is_file()


def test_constants_page_holds_table_app_h_and_every_estimator_figure(smoke_run):
    html = (smoke_run / "report" / "constants.html").read_text()
    assert "App. H" in html and "L′L+/(2L−²)" in html and "convexity_coeff" not in html  # labelled, not raw
    curves = pd.read_csv(smoke_run / "results" / "constants" / "curves.tsv", sep="\t")
    for label in curves["label"].unique():
        assert f"{label} (b=" in html or label in html
    assert _images(html) >= 2
    constants = json.loads((smoke_run / "results" / "constants" / "constants.json").read_text())
    htge = [r for r in constants if r["label"] == "htge" and r["bits"] == 2]
    assert htge and htge[0]["alpha"] == pytest.approx(0.6095, abs=1e-4)


def test_qat_page_holds_tables_3_to_5_and_figure_3(smoke_run):
    html = (smoke_run / "report" / "qat.html").read_text()
    for marker in ("Table 3", "Table 4", "Table 5", "Fig. 3"):
        assert marker in html
    assert _images(html) >= 2
    for name in ("qat_table3", "qat_table4", "qat_table5"):
        for ext in ("csv", "tex"):
            assert (smoke_run / "results" / "tables" / f"{name}.{ext}").stat().st_size > 0


def test_theory_page_holds_figures(smoke_run):
    html = (smoke_run / "report" / "theory.html").read_text()
    assert _images(html) >= 3


def test_rerun_has_nothing_to_do(smoke_run):
    proc = snakemake(smoke_run, "-n", "--cores", "1", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_snakemake_report_is_generated(smoke_run):
    proc = snakemake(smoke_run, "--configfile", "config/smoke.yaml", "--report", "report/snakemake.html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (smoke_run / "report" / "snakemake.html").stat().st_size > 10_000


def test_lint_is_clean(smoke_run):
    proc = snakemake(smoke_run, "--lint", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr
