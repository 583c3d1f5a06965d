"""The numbers on the report pages of a smoke run, read back from the HTML and compared with the results tables.

Each page is parsed into its tables (cell texts per row, with the id of the section or notebook cell around
the table); a row is found by its label cells, and each expected value must appear in that row as written
there: some number in the row's cells equals the value to the precision the page prints it (half a unit of
its last printed digit; the renderer's unicode minus and ``a × 10ⁿ`` are read). The comparison does not
depend on the order of the columns, their headings or the number of digits a page chooses, so the page
presentation may change; a wrong number on a page (or a value taken from the wrong row or column) fails.
Expected values come from the results files and, for ratios and the paper's values, are computed here.
"""

from __future__ import annotations

import math
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.slow

_SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
_NUMBER = re.compile(r"(?<![\w.])([−-]?\d+(?:\.\d+)?)(?:\s*×\s*10([⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+))?")


class Tables(HTMLParser):
    """Every table of a page: {"where": ids of the enclosing sections/divs, "rows": [[cell text, ...], ...],
    "caption": its caption text}."""

    def __init__(self, text: str):
        super().__init__()
        self.tables, self._ids, self._table, self._cell, self._caption = [], [], None, None, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in ("section", "div"):
            self._ids.append(dict(attrs).get("id") or "")
        elif tag == "table":
            self._table = {"where": [i for i in self._ids if i], "rows": [], "caption": ""}
        elif tag == "caption" and self._table is not None:
            self._caption = []
        elif tag == "tr" and self._table is not None:
            self._table["rows"].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("section", "div") and self._ids:
            self._ids.pop()
        elif tag in ("td", "th") and self._cell is not None:
            self._table["rows"][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "caption" and self._caption is not None:
            self._table["caption"] = " ".join("".join(self._caption).split())
            self._caption = None
        elif tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._caption is not None:
            self._caption.append(data)


def page_tables(path, section: str | None = None) -> list[dict]:
    """The run's tables of a page (in ``section``): the paper-scale record's own tables (captions
    "Record: …") show other numbers under the same row labels and are left out."""
    tables = Tables(path.read_text()).tables
    return [t for t in tables if (section is None or section in t["where"]) and not t["caption"].startswith("Record:")]


def numbers(cells) -> list[tuple[float, float, int]]:
    """(value, half a unit of the last printed digit, significant digits) of every number written in ``cells``."""
    out = []
    for text in cells:
        for m in _NUMBER.finditer(text):
            mantissa = m.group(1).replace("−", "-")
            decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
            scale = 10.0 ** int(m.group(2).translate(_SUPERSCRIPT)) if m.group(2) else 1.0
            digits = len(mantissa.lstrip("-").replace(".", "").lstrip("0"))
            out.append((float(mantissa) * scale, 0.5 * 10.0**-decimals * scale, digits))
    return out


def shows(cells, value: float) -> bool:
    """Whether ``value`` is written in ``cells`` to the precision it is printed with: exactly, or rounded to
    at least two significant digits (a one-digit number such as a bit width matches only itself)."""
    if math.isinf(value):
        return any("∞" in c for c in cells)
    return any(x == value or (digits >= 2 and abs(x - value) <= half * (1 + 1e-9) + 1e-12 * abs(value))
               for x, half, digits in numbers(cells))


def find_rows(tables, first: str | None = None, *labels: str) -> list[list[str]]:
    """Rows (of any of ``tables``, headers left out) whose first cell is ``first`` (any, if None) and whose
    cells include each of ``labels`` as a whole cell."""
    return [row for t in tables for row in t["rows"][1:]
            if row and (first is None or row[0] == first) and all(label in row for label in labels)]


def assert_row_shows(tables, labels: tuple, values: dict):
    rows = find_rows(tables, *labels)
    assert rows, f"no row labelled {labels} in {[t['rows'][0] for t in tables]}"
    for row in rows:
        missing = {k: v for k, v in values.items() if not shows(row, float(v))}
        assert not missing, f"row {row} does not show {missing}"


OPT_LABEL = {"momentum": "(S)", "adam": "(A)"}
#: the paper's claim ratios from its printed Table 4 (0.515/0.572, 2.81/1.74, 2.52/0.515), typed here
PAPER_RATIO = {("momentum", "A"): 0.515 / 0.572, ("adam", "A"): 2.81 / 1.74, ("momentum", "B"): 2.52 / 0.515}


@pytest.fixture(scope="module")
def run(smoke_run):
    return {"results": smoke_run / "results", "report": smoke_run / "report"}


def test_landing_table4_shows_the_results_table(run):
    from stelab.qat.paper_values import COMPARED_AS

    t4 = pd.read_csv(run["results"] / "tables" / "qat_table4.csv")
    tables = page_tables(run["report"] / "index.html", "table4")
    assert len(t4) >= 5
    for r in t4.to_dict("records"):
        expected = {"E_bar_paper": r["E_bar_paper"], "ours": r[f"{COMPARED_AS}_mean"],
                    "ratio": r[f"{COMPARED_AS}_mean"] / r["E_bar_paper"], "agreement": r["agreement_mean"],
                    "agreement_paper": r["agreement_paper"], "seeds": r["n_seeds"]}
        assert_row_shows(tables, (r["experiment"],), expected)


def test_landing_claims_show_the_ratios_of_the_pairs_table(run):
    pairs = pd.read_csv(run["results"] / "qat" / "pairs.tsv", sep="\t")
    pairs = pairs[(pairs["sweep_factor"] == 1.0) & ~pairs["diverged"].astype(bool)]
    tables = [t for t in page_tables(run["report"] / "index.html", "claims") if t["caption"] == "This run."]
    assert len(tables) == 1
    checked = 0
    for (opt, bits), g in pairs.groupby(["optimizer", "bits"]):
        e = g.pivot(index="seed", columns="pair", values="E_bar")
        for claim, (top, bottom) in {"A": ("baseline", "lrtweak"), "B": ("unadjusted", "baseline")}.items():
            if top not in e or bottom not in e:
                continue
            ratio = float(np.exp(np.mean(np.log(e[top] / e[bottom]))))  # geometric mean over seeds
            rows = [row for row in find_rows(tables, None, claim, str(bits)) if row[0].endswith(OPT_LABEL[opt])]
            assert len(rows) == 1, (opt, claim, rows)
            want = {"ratio": ratio}
            if (opt, claim) in PAPER_RATIO and bits == 2:
                want["paper"] = PAPER_RATIO[(opt, claim)]
            assert all(shows(rows[0], v) for v in want.values()), (rows[0], want)
            checked += 1
    assert checked >= 3


def test_landing_and_constants_page_show_app_h(run):
    app_h = pd.read_csv(run["results"] / "constants" / "app_h.tsv", sep="\t")
    assert len(app_h) == 6
    for page, section in (("index.html", "app-h"), ("constants.html", None)):
        tables = page_tables(run["report"] / page, section)
        for r in app_h.to_dict("records"):
            assert_row_shows(tables, (r["case"],), {"ours": r["ours"], "edge": r["ours_edge_L′"], "paper": r["paper"]})


def test_landing_theory_gaps_show_the_largest_gap_per_limit(run):
    tables = page_tables(run["report"] / "index.html", "theory-gaps")
    gaps = pd.concat([pd.read_csv(p, sep="\t") for p in sorted((run["results"] / "theory").glob("*/gaps.tsv"))])
    eps = gaps[gaps["quantity"] == "eps"]
    assert len(eps) >= 5
    for (exp, theory), g in eps.groupby(["experiment", "theory"]):
        worst = g.loc[g["max_abs_diff"].idxmax()]
        rows = find_rows(tables, None, worst["case"])  # the row names the case where the gap is largest
        assert any(shows(row, worst["max_abs_diff"]) and shows(row, len(g)) for row in rows), (exp, theory, rows)


def test_constants_page_shows_the_constants_table(run):
    constants = pd.read_csv(run["results"] / "constants" / "constants.tsv", sep="\t")
    tables = page_tables(run["report"] / "constants.html")
    for r in constants.to_dict("records"):
        want = {k: r[k] for k in ("L_minus", "L_plus", "L_prime", "alpha", "convexity_coeff")}
        assert_row_shows(tables, (r["label"], str(r["bits"])), want)


def test_qat_page_shows_tables_4_and_5(run):
    tables = page_tables(run["report"] / "qat.html")
    t4 = pd.read_csv(run["results"] / "tables" / "qat_table4.csv")
    for r in t4.to_dict("records"):
        assert_row_shows(tables, (r["experiment"],), {k: r[k] for k in ("E_bar_mean", "E_bar_m_mean", "E_bar_paper",
                                                                        "agreement_mean", "agreement_paper")})
    t5 = pd.read_csv(run["results"] / "tables" / "qat_table5.csv")
    for r in t5.to_dict("records"):
        want = {k: r[k] for k in t5.columns if k.endswith("_mean") and np.isfinite(r[k])}
        want.update({k: r[k] for k in t5.columns if k.endswith("_paper") and np.isfinite(r[k])})
        assert want
        assert_row_shows(tables, (r["row"],), want)


def test_theory_page_shows_fixed_points_and_stability(run):
    tables = page_tables(run["report"] / "theory.html")
    fp = pd.read_csv(run["results"] / "theory" / "fixed_points" / "fixed_points.tsv", sep="\t")
    grid = fp[fp["sweep"] == "bits_omega"]
    assert len(grid) >= 4
    for r in grid.to_dict("records"):
        rows = [row for row in find_rows(tables) if all(shows(row, r[k]) for k in ("bits", "omega", "eta", "sigma"))]
        assert any(shows(row, r["eps_star"]) for row in rows), (r, rows)
    st = pd.read_csv(run["results"] / "theory" / "stability" / "stability.tsv", sep="\t")
    for r in st.to_dict("records"):
        rows = [row for row in find_rows(tables, None, r["model"]) if shows(row, r["eta"])]
        assert rows, (r["eta"], r["model"])
        rows = [row for row in rows if all(shows(row, r[k]) for k in ("sim_eps_mean", "theory_eps", "eps_star", "c"))]
        assert len(rows) == 1, (r, rows)
