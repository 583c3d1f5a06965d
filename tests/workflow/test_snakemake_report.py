"""`snakemake --report` on the smoke DAG's output: captions render without a docutils problem, and every
figure file (results/figures/<track>/<name>.{pdf,svg,png}) is in the report under "Figures"."""

from __future__ import annotations

import json
import re

import pytest
from helpers import snakemake

pytestmark = pytest.mark.slow

#: what docutils writes (to stderr, and into the HTML) when a caption or the workflow description is broken
DOCUTILS_PROBLEMS = ("System Message", "(ERROR/", "(WARNING/", "(SEVERE/", "Undefined substitution")
#: the figures of config/smoke.yaml: every track, the lr sweep (factors 0.5 and 1), all five theory experiments
SMOKE_FIGURES = {
    "constants": ["fig1_estimators", "weight_maps"],
    "qat": ["E_bar_over_training", "fig3_weight_scatter", "lr_sweep"],
    "theory": ["bridge", "densities", "error_curves_curves", "error_curves_density", "error_curves_plateau",
               "error_curves_variants", "fixed_points", "plateau", "stability"],
}
MIME = {"pdf": "application/pdf", "svg": "image/svg+xml", "png": "image/png"}


@pytest.fixture(scope="module")
def report(smoke_run):
    proc = snakemake(smoke_run, "--configfile", "config/smoke.yaml", "--report", "report/snakemake.html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr, (smoke_run / "report" / "snakemake.html").read_text()


def report_variable(html: str, script_id: str):
    """The JSON the report embeds as ``<script id="...">var name = {...};</script>``."""
    match = re.search(rf'<script id="{script_id}">\s*var \w+ = (.*?);\s*</script>', html, re.DOTALL)
    assert match, f"no <script id={script_id!r}> in the report"
    return json.loads(match.group(1))


def test_the_report_has_no_docutils_problem(report):
    log, html = report
    for marker in DOCUTILS_PROBLEMS:
        assert marker not in log, f"{marker!r} in the snakemake --report output:\n{log[-3000:]}"
        assert marker not in html, f"{marker!r} in report/snakemake.html"


def test_every_figure_file_is_written_and_in_the_report(report, smoke_run):
    _, html = report
    expected = sorted(f"results/figures/{track}/{name}.{fmt}" for track, names in SMOKE_FIGURES.items()
                      for name in names for fmt in MIME)
    written = sorted(str(p.relative_to(smoke_run)) for p in (smoke_run / "results" / "figures").rglob("*")
                     if p.is_file())
    assert written == expected
    listed = report_variable(html, "categories")["Figures"]
    assert sorted(listed) == ["Estimator constants", "QAT", "Theory"]
    assert sorted(path for paths in listed.values() for path in paths) == expected
    results = report_variable(html, "results")
    for path in expected:
        entry = results[path]
        fmt = path.rsplit(".", 1)[1]
        assert entry["mime_type"] == MIME[fmt], path
        assert entry["data_uri"].startswith(f"data:{MIME[fmt]};"), path
        assert entry["labels"] == {"figure": path.rsplit("/", 1)[1].rsplit(".", 1)[0], "format": fmt.upper()}
        assert len(entry["caption"]) > 200 and "arXiv" in entry["caption"], path
