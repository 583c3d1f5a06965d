"""The landing page (report/index.html) from hand-written results files, and the report captions."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import docutils.core
import jinja2
import nbformat
import pytest
import yaml
from PIL import Image

from helpers import REPO
from stelab.cli import main
from stelab.landing import build_index

TABLE4 = """\
experiment,bits,optimizer,pair,E_bar_mean,E_bar_sd,E_bar_paper,agreement_mean,agreement_sd,agreement_paper,n_seeds
baseline (S),2,momentum,baseline,0.2,0.01,0.515,98.7,0.1,98.31,2
lrtweak (S),2,momentum,lrtweak,0.25,0.02,0.572,98.9,0.1,98.66,2
unadjusted (S),2,momentum,unadjusted,1.0,0.1,2.52,97.4,0.2,96.53,2
baseline (A),2,adam,baseline,0.9,0.05,2.81,99.7,0.1,94.42,2
lrtweak (A),2,adam,lrtweak,0.3,0.03,1.74,99.3,0.1,95.4,2
"""
APP_H = (
    "case\tquantity\tours\tours_edge_L′\tpaper\n"
    "HTGE b=2, k=2\tL′L+/(2L−²)\t1.765270564294597\t1.7650353783600785\t1.77\n"
    "DSQ α_dsq=0.25, k=1\tL′L+/(2L−²)\t2.010907060034615\t1.7142857173435737\t1.71\n"
    "made up\tL′L+/(2L−²)\t3.0\t3.0\t1.0\n"
)
GAP_HEADER = "experiment\tcase\ttheory\tquantity\ttau\tmax_abs_diff\tmean_abs_diff\tseed_sem\tks\td\tseeds\n"
CURVES_GAPS = GAP_HEADER + (
    "curves\tb2_w1.5\tpde\teps\t\t0.07\t0.03\t0.05\t\t200\t2\n"
    "curves\tb2_w2\tpde\teps\t\t0.09\t0.04\t0.1\t\t200\t2\n"
    "curves\tb2_w2\tclosure\teps\t\t0.16\t0.09\t0.1\t\t200\t2\n"
)
DENSITY_GAPS = GAP_HEADER + (
    "density\tmain\tpde\teps\t\t0.17\t0.06\t\t\t300\t1\n"
    "density\tmain\tpde\tdensity|w*=1\t5.0\t\t\t\t0.06\t300\t1\n"
    "density\tmain\tstationary\tdensity|w*=1\t10.0\t\t\t\t0.7\t300\t1\n"
)
MY_CAPTIONS = ["workflow.rst", "notebook.rst", "qat_lr_sweep.rst", "qat_table3.rst", "qat_table4.rst",
               "qat_table5.rst"]


class Page(HTMLParser):
    """Per section id: table rows (cell texts, header first), list items, links (href, image src), text."""

    def __init__(self, text: str):
        super().__init__()
        self.section, self.row, self.cell, self.link, self.item = None, None, None, None, None
        self.tables, self.items, self.links, self.text = {}, {}, [], {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.section = a["id"]
        elif tag == "tr":
            self.row = []
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "li":
            self.item = []
        elif tag == "a":
            self.link = [a.get("href"), None]
        elif tag == "img" and self.link is not None:
            self.link[1] = a.get("src")

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.row.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr":
            self.tables.setdefault(self.section, []).append(self.row)
        elif tag == "li":
            self.items.setdefault(self.section, []).append(" ".join("".join(self.item).split()))
            self.item = None
        elif tag == "a":
            self.links.append((self.section, *self.link))
            self.link = None
        elif tag == "section":
            self.section = None

    def handle_data(self, data):
        for part in (self.cell, self.item):
            if part is not None:
                part.append(data)
        self.text[self.section] = self.text.get(self.section, "") + data


def _png(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _write_notebook(path: Path, markdown: str, png: str | None) -> None:
    code = nbformat.v4.new_code_cell("plot()")
    if png:
        code.outputs = [nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"})]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown), code])
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture
def results(tmp_path):
    """A miniature run: results files written by hand, two report pages and their executed notebooks."""
    files = {
        "table4": tmp_path / "results/tables/qat_table4.csv",
        "app_h": tmp_path / "results/constants/app_h.tsv",
        "curves_gaps": tmp_path / "results/theory/curves/gaps.tsv",
        "density_gaps": tmp_path / "results/theory/density/gaps.tsv",
    }
    for key, text in zip(files, (TABLE4, APP_H, CURVES_GAPS, DENSITY_GAPS)):
        files[key].parent.mkdir(parents=True, exist_ok=True)
        files[key].write_text(text)
    for name in ("qat", "theory"):
        (tmp_path / "report").mkdir(exist_ok=True)
        (tmp_path / f"report/{name}.html").write_text(f"<html><body>{name}</body></html>")
    _write_notebook(tmp_path / "results/notebooks/qat.ipynb", "# QAT on MNIST\nQ̂-net vs STE-net.", _png(800, 400))
    _write_notebook(tmp_path / "results/notebooks/theory.ipynb", "# Theory\nSimulation vs limits.", None)
    files["pages"] = [tmp_path / "report/qat.html", tmp_path / "report/theory.html"]
    files["executed"] = [tmp_path / "results/notebooks/qat.ipynb", tmp_path / "results/notebooks/theory.ipynb"]
    files["out"] = tmp_path / "report/index.html"
    return files


@pytest.fixture
def page(results) -> tuple[str, Page]:
    build_index(out=results["out"], title="stelab test", pages=results["pages"], executed=results["executed"],
                table4=results["table4"], app_h=results["app_h"],
                gaps=[results["curves_gaps"], results["density_gaps"]])
    text = results["out"].read_text()
    return text, Page(text)


def test_claims_show_ratios_paper_ratios_and_verdicts(page):
    _, p = page
    assert p.tables["claims"] == [
        ["Optimizer", "Bits", "Ē baseline / Ē lr-tweak", "paper", "Claim A", "Ē unadjusted / Ē baseline", "paper",
         "Claim B"],
        ["momentum (S)", "2", "0.80", "0.90", "holds", "5.00", "4.89", "holds"],
        ["adam (A)", "2", "3.00", "1.61", "fails", "–", "–", "not run (no unadjusted pair)"],
    ]
    glance = p.items["verdicts"]
    assert glance[0] == ("Claim A (Ē baseline ≈ Ē lr-tweak, ratio within ×2): holds momentum (S), 2 bit; "
                         "fails adam (A), 2 bit")
    assert glance[1] == "Claim B (Ē unadjusted ≥ 2 × Ē baseline): holds momentum (S), 2 bit"


def test_table4_shows_ours_beside_the_paper_without_an_index_column(page):
    _, p = page
    rows = p.tables["table4"]
    assert rows[0] == ["Experiment", "Ē (% of range)", "Ē paper (%)", "Agreement (%)", "Agreement paper (%)", "Seeds"]
    assert rows[1] == ["baseline (S)", "0.200 ± 0.010", "0.515", "98.700 ± 0.100", "98.310", "2"]
    assert [r[0] for r in rows[1:]] == ["baseline (S)", "lrtweak (S)", "unadjusted (S)", "baseline (A)", "lrtweak (A)"]


def test_app_h_recomputed_beside_printed(page):
    _, p = page
    assert p.tables["app-h"][1:] == [
        ["HTGE b=2, k=2", "1.77", "1.7653", "1.7650", "both"],
        ["DSQ α_dsq=0.25, k=1", "1.71", "2.0109", "1.7143", "bin-edge L′ only"],
        ["made up", "1.00", "3.0000", "3.0000", "neither"],
    ]
    assert p.items["verdicts"][2] == ("App. H (L′L+/(2L−²)): 2/3 reproduced — 1/3 with L′ = max |Q̂''|, "
                                      "2/3 with L′ evaluated at the bin edge")


def test_theory_gaps_summarised_per_experiment_and_limit(page):
    _, p = page
    assert p.tables["theory-gaps"][1:] == [
        ["curves", "pde", "2", "0.09", "b2_w2", "0.1", "0.035", "–"],
        ["curves", "closure", "1", "0.16", "b2_w2", "0.1", "0.09", "–"],
        ["density", "pde", "1", "0.17", "main", "–", "0.06", "0.06"],
        ["density", "stationary", "–", "–", "–", "–", "–", "0.7"],
    ]
    assert p.items["verdicts"][3:] == [
        "Theory: largest max |Δε| 0.17 (density, main, pde)",
        "Theory: largest KS distance of weight densities 0.7 (density, stationary)",
    ]


def test_thumbnails_link_to_their_pages(page):
    _, p = page
    cards = [(href, src) for section, href, src in p.links if section == "pages"]
    assert ("qat.html", None) in cards and ("theory.html", None) in cards
    thumbs = [(href, src) for href, src in cards if src]
    assert [href for href, _ in thumbs] == ["qat.html"]
    prefix = "data:image/png;base64,"
    assert thumbs[0][1].startswith(prefix)
    assert Image.open(io.BytesIO(base64.b64decode(thumbs[0][1][len(prefix):]))).size == (360, 180)
    assert "(no figure on this page)" in p.text["pages"]
    assert "QAT on MNIST" in p.text["pages"] and "Q̂-net vs STE-net." in p.text["pages"]
    assert ("claims", "qat.html", None) in p.links and ("theory-gaps", "theory.html", None) in p.links


def test_numbers_are_plain_text_and_nothing_is_fetched(page):
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", page[0])
    for bad in ("np.", "array(", "dtype", "Unnamed", "NaN", ">nan<", "http://", "https://", "<script"):
        assert bad not in text, bad


def test_a_theory_only_run_says_not_run_for_the_other_sections(results):
    build_index(out=results["out"], title="theory only", pages=results["pages"][1:],
                executed=results["executed"][1:], gaps=[results["density_gaps"]])
    p = Page(results["out"].read_text())
    assert "Not run: the QAT track is not part of this run (no Table 4)." in p.text["claims"]
    assert "Not run: the QAT track is not part of this run (no Table 4)." in p.text["table4"]
    assert "Not run: the estimator constants are not part of this run." in p.text["app-h"]
    assert p.items["verdicts"][:2] == ["Claims A and B: not run", "App. H: not run"]
    assert p.tables["theory-gaps"][1] == ["density", "pde", "1", "0.17", "main", "–", "0.06", "0.06"]
    assert ("claims", "qat.html", None) not in p.links


def test_the_command_writes_the_same_page(results, page):
    text, _ = page
    results["out"].unlink()
    rc = main(["report", "index", "--title", "stelab test", "--out", str(results["out"]),
               "--pages", *map(str, results["pages"]), "--executed", *map(str, results["executed"]),
               "--table4", str(results["table4"]), "--app-h", str(results["app_h"]),
               "--gaps", str(results["curves_gaps"]), str(results["density_gaps"])])
    assert rc == 0
    assert results["out"].read_text() == text


def test_bad_inputs_name_the_file(results, tmp_path):
    kw = {"out": results["out"], "title": "t", "pages": results["pages"], "executed": results["executed"]}
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        build_index(**kw, table4=tmp_path / "nowhere.csv")
    bad = tmp_path / "app_h_old.tsv"
    bad.write_text("case\tours\tpaper\nx\t1\t1\n")
    with pytest.raises(ValueError, match=r"app_h_old.tsv: missing column\(s\) ours_edge_L′"):
        build_index(**kw, app_h=bad)
    with pytest.raises(ValueError, match="does not match executed notebook"):
        build_index(**{**kw, "executed": results["executed"][::-1]})
    assert not results["out"].exists()


@pytest.mark.parametrize("name", MY_CAPTIONS)
def test_caption_is_valid_restructuredtext(name):
    """Rendered as `snakemake --report` does (Jinja, then docutils), a caption reports no problem."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())

    class Snakemake:
        pass

    Snakemake.config = config
    text = jinja2.Template((REPO / "workflow/report" / name).read_text()).render(snakemake=Snakemake)
    problems = io.StringIO()
    docutils.core.publish_string(text, writer="html", settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": problems})
    assert problems.getvalue() == ""
