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
from stelab.report import provenance as prov
from stelab.report.tables import raw_names

TABLE4 = """\
experiment,bits,optimizer,pair,E_bar_mean,E_bar_sd,E_bar_m_mean,E_bar_m_sd,E_bar_paper,E_bar_m_over_paper,agreement_mean,agreement_sd,agreement_paper,n_seeds
baseline (S),2,momentum,baseline,0.2,0.01,0.4,0.02,0.515,0.7767,98.7,0.1,98.31,2
lrtweak (S),2,momentum,lrtweak,0.25,0.02,0.5,0.04,0.572,0.8741,98.9,0.1,98.66,2
unadjusted (S),2,momentum,unadjusted,1.0,0.1,2.0,0.2,2.52,0.7937,97.4,0.2,96.53,2
baseline (A),2,adam,baseline,0.9,0.05,1.8,0.1,2.81,0.6406,99.7,0.1,94.42,2
lrtweak (A),2,adam,lrtweak,0.3,0.03,0.6,0.06,1.74,0.3448,99.3,0.1,95.4,2
"""
PAIRS = "bits\toptimizer\tpair\tseed\tsweep_factor\tE_bar\tdiverged\n" + "".join(
    f"2\t{o}\t{p}\t{s}\t1.0\t{e}\tFalse\n" for o, p, es in (
        ("momentum", "baseline", (0.2, 0.2)), ("momentum", "lrtweak", (0.25, 0.25)),
        ("momentum", "unadjusted", (1.0, 1.0)), ("adam", "baseline", (0.9, 0.9)), ("adam", "lrtweak", (0.3, 0.3)))
    for s, e in enumerate(es))
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
    "curves\tb2_w2\tclosure\teps\t\t0.16\t0.09\t0.01\t\t200\t2\n"
)
DENSITY_GAPS = GAP_HEADER + (
    "density\tmain\tpde\teps\t\t0.17\t0.06\t\t\t300\t1\n"
    "density\tmain\tpde\tdensity|w*=1\t5.0\t\t\t\t0.06\t300\t1\n"
    "density\tmain\tstationary\tdensity|w*=1\t10.0\t\t\t\t0.7\t300\t1\n"
)
QAT_CONFIG = {"quantize": {"bits": 2}, "extra_bits": [], "epochs": 1, "batch_size": 64, "val_subset": None,
              "eval_train_subset": 5000, "seeds": [0, 1], "optimizers": {"momentum": {}, "adam": {}}}


def facts(source: str = "download", steps: int = 469, images: int = 30000) -> dict:
    config = {"data": {"source": source}, "qat": QAT_CONFIG, "theory": {"sim": {"d": 200, "seeds": [0, 1]}}}
    return prov.facts(config, ["config/config.yaml"], "0123456789abcdef", False, steps, images, date="2026-01-02")


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
        "pairs": tmp_path / "results/qat/pairs.tsv",
        "app_h": tmp_path / "results/constants/app_h.tsv",
        "curves_gaps": tmp_path / "results/theory/curves/gaps.tsv",
        "density_gaps": tmp_path / "results/theory/density/gaps.tsv",
    }
    for key, text in zip(files, (TABLE4, PAIRS, APP_H, CURVES_GAPS, DENSITY_GAPS)):
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
    files["provenance"] = tmp_path / "results/report/provenance.json"
    prov.write(files["provenance"], facts())
    return files


def _build(results, **kw):
    args = dict(out=results["out"], title="stelab test", pages=results["pages"], executed=results["executed"],
                provenance=results["provenance"], table4=results["table4"], pairs=results["pairs"],
                app_h=results["app_h"], gaps=[results["curves_gaps"], results["density_gaps"]])
    build_index(**{**args, **kw})
    text = results["out"].read_text()
    return text, Page(text)


@pytest.fixture
def page(results) -> tuple[str, Page]:
    return _build(results)


def test_the_page_opens_with_its_provenance_and_scale(page):
    text, p = page
    line = ("Config: config/config.yaml · data: real MNIST (downloaded, MD5-verified) · QAT: 469 steps × batch 64 "
            "per run (1 epoch of 30,000 images; all validation images; train metrics per epoch on 5,000), 2 bit, "
            "seeds 0, 1 · theory: d = 200, seeds 0, 1 · commit 0123456789 · built 2026-01-02")
    assert line in text
    assert p.items["verdicts"][0].startswith("Not paper scale: 1 epoch of 30,000 images (469 steps of 64) per run; "
                                             "Ē grows with training; see the record.")


def test_claims_over_seeds_with_interval_paper_ratio_verdict_and_rule(page):
    _, p = page
    rows = p.tables["claims"]
    assert rows[0] == ["Optimizer", "Bits", "Claim", "Ratio of Ē (geometric mean)", "95 % interval", "Seeds",
                       "Paper's ratio", "Verdict", "Rule"]
    assert rows[1][:8] == ["SGD + momentum (S)", "2", "A", "0.800", "[0.800, 0.800]", "2", "0.900", "holds"]
    assert rows[2][:8] == ["SGD + momentum (S)", "2", "B", "5.00", "[5.00, 5.00]", "2", "4.89", "holds"]
    assert rows[3][:8] == ["Adam (A)", "2", "A", "3.00", "[3.00, 3.00]", "2", "1.61", "fails"]
    assert rows[4][2:] == ["B", "–", "–", "–", "–", "not applicable (Adam needs no M)", rows[4][-1]]
    assert p.items["verdicts"][1].startswith("Claim A (holds if the 95 % interval")


def test_a_synthetic_run_is_not_a_reproduction(results):
    prov.write(results["provenance"], facts(source="synthetic", steps=38, images=1200))
    text, p = _build(results)
    verdicts = [r[7] for r in p.tables["claims"][1:]]
    assert set(verdicts) == {"not a reproduction", "not applicable (Adam needs no M)"}
    assert ">holds<" not in text
    assert "synthetic seven-segment digits, not MNIST" in text


def test_table4_beside_the_paper_in_the_compared_normalisation_without_an_index_column(page):
    _, p = page
    rows = p.tables["table4"]
    assert rows[0] == ["Experiment", "Ē paper (%)", "This run: Ē_m = mean |Δw| / m (%)", "This run ÷ paper",
                       "Agreement paper (%)", "This run: agreement (%)", "Seeds"]
    assert rows[1] == ["baseline (S)", "0.515", "0.400 ± 0.020", "0.777", "98.31", "98.70 ± 0.10", "2"]
    assert rows[5][1] == "1.74" and rows[5][4] == "95.4"
    assert "Paper-scale record: no record yet" in p.text["table4"]


def test_the_record_stands_beside_the_run(results, tmp_path):
    tables = tmp_path / "record/tables"
    tables.mkdir(parents=True)
    (tables / "qat_table4.csv").write_text(TABLE4.replace("0.4,0.02", "0.9,0.05"))
    (tables / "claims.csv").write_text("bits,optimizer,claim,ratio,ratio_lo,ratio_hi,n_seeds,verdict,rule\n"
                                       "2,momentum,A,0.9,0.8,1.1,5,holds,rule A\n")
    (tables / "slices.csv").write_text("slice,bits,seed,commit,wall_s\n" + "".join(
        f"b2-seed{k},2,{k},abcdef1234567,100\n" for k in range(5)))
    _, p = _build(results, record=tmp_path / "record")
    rows = p.tables["table4"]
    assert "Record: Ē_m = mean |Δw| / m (%)" in rows[0]
    assert rows[1][rows[0].index("Record: Ē_m = mean |Δw| / m (%)")] == "0.900 ± 0.050"
    assert "Paper-scale record: 5 seeds, 5 slices, commit abcdef1234" in p.text["table4"]
    assert any(item.startswith("Record: claim A holds") for item in p.items["verdicts"])


def test_app_h_recomputed_beside_printed(page):
    _, p = page
    assert p.tables["app-h"][1:] == [
        ["HTGE b=2, k=2", "1.77", "1.7653", "1.7650", "both"],
        ["DSQ α_dsq=0.25, k=1", "1.71", "2.0109", "1.7143", "bin-edge L′ only"],
        ["made up", "1.00", "3.0000", "3.0000", "neither"],
    ]
    assert any(item == ("App. H (L′L+/(2L−²)): 2/3 reproduced — 1/3 with L′ = max |Q̂''|, "
                        "2/3 with L′ evaluated at the bin edge") for item in p.items["verdicts"])


def test_theory_gaps_get_a_verdict_rule_scale_and_figure(page):
    _, p = page
    rows = p.tables["theory-gaps"]
    assert rows[0][-1] == "Drawn in" and "ε verdict" in rows[0] and "KS verdict" in rows[0]
    assert rows[1] == ["error curves", "PDE", "2", "0.0900", "b2_w2", "0.100", "0.90", "agrees", "0.0350", "–", "–",
                       "–", "error_curves_curves"]
    assert rows[2][:8] == ["error curves", "Gaussian closure", "1", "0.160", "b2_w2", "0.0100", "16", "differs"]
    assert rows[3][:8] == ["density", "PDE", "1", "0.170", "main", "–", "–", "no scale (1 seed)"]
    assert rows[3][9:] == ["0.0600", "0.0785", "consistent", "error_curves_density, densities"]
    glance = p.items["verdicts"]
    assert any(i.startswith("Theory: largest max |Δε| 0.17 (density, main, PDE) no scale (1 seed) — agrees if")
               and i.endswith("drawn in error_curves_density, densities") for i in glance)
    assert any(i.startswith("Theory: largest KS distance of weight densities 0.7 (density, stationary μ*) differs")
               for i in glance)


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
    for bad in ("np.", "array(", "dtype", "Unnamed", "NaN", ">nan<", "inf<", "True", "False", "http://",
                "https://", "<script"):
        assert bad not in text, bad
    for table in page[1].tables.values():
        header = table[0]
        assert not raw_names(header), header


def test_a_theory_only_run_says_not_run_for_the_other_sections(results):
    _, p = _build(results, pages=results["pages"][1:], executed=results["executed"][1:], table4=None, pairs=None,
                  app_h=None, gaps=[results["density_gaps"]])
    assert "Not run: the QAT track is not part of this run (no comparison rows)." in p.text["claims"]
    assert "Not run: the QAT track is not part of this run (no Table 4)." in p.text["table4"]
    assert "Not run: the estimator constants are not part of this run." in p.text["app-h"]
    assert "Claims A and B: not run" in p.items["verdicts"] and "App. H: not run" in p.items["verdicts"]
    assert p.tables["theory-gaps"][1][:3] == ["density", "PDE", "1"]
    assert ("claims", "qat.html", None) not in p.links


def test_the_command_writes_the_same_page(results, page):
    text, _ = page
    results["out"].unlink()
    rc = main(["report", "index", "--title", "stelab test", "--out", str(results["out"]),
               "--pages", *map(str, results["pages"]), "--executed", *map(str, results["executed"]),
               "--provenance", str(results["provenance"]), "--table4", str(results["table4"]),
               "--pairs", str(results["pairs"]), "--app-h", str(results["app_h"]),
               "--gaps", str(results["curves_gaps"]), str(results["density_gaps"])])
    assert rc == 0
    assert results["out"].read_text() == text


def test_bad_inputs_name_the_file(results, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.csv"):
        _build(results, table4=tmp_path / "nowhere.csv")
    bad = tmp_path / "app_h_old.tsv"
    bad.write_text("case\tours\tpaper\nx\t1\t1\n")
    with pytest.raises(ValueError, match=r"app_h_old.tsv: missing column\(s\) ours_edge_L′"):
        _build(results, app_h=bad)
    with pytest.raises(ValueError, match="does not match executed notebook"):
        _build(results, executed=results["executed"][::-1])
    with pytest.raises(FileNotFoundError, match="provenance file"):
        _build(results, provenance=tmp_path / "none.json")
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
