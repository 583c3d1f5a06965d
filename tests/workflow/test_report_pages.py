"""Acceptance test of the report a researcher reads (issue 16): headless Chromium screenshots the landing page
and every notebook page of the smoke run and checks what each page shows — the provenance line, tables
without an index column or raw column names, no NaN/inf/True text, nothing wider than the window — and that
the smoke run, on synthetic digits, is never marked "holds"."""

from __future__ import annotations

import re

import pytest
from test_report_browser import browser  # noqa: F401  (the headless Chromium fixture)

from stelab.report.tables import raw_names

pytestmark = [pytest.mark.slow, pytest.mark.browser]

#: text no page may show: pandas' missing and infinite values, Python's booleans
BAD_WORDS = re.compile(r"\b(NaN|nan|inf|True|False)\b")
PAGE_STATE = """
// the paper-scale record's own verdicts (real MNIST) may hold; this run's (synthetic digits) may not
const isRecord = b => {
  const cap = b.closest('table') && b.closest('table').caption;
  const li = b.closest('li');
  return (cap && /^(Record|Paper-scale record)/.test(cap.textContent)) || (li && li.textContent.startsWith('Record:'));
};
const tables = Array.from(document.querySelectorAll('table')).map(t => ({
  head: Array.from(t.querySelectorAll('thead th')).map(th => th.textContent.trim()),
  bodyHeaders: t.querySelectorAll('tbody th').length,
  firstHead: (t.querySelector('thead th') || {textContent: 'none'}).textContent.trim()}));
return {text: document.body.innerText, provenance: Array.from(document.querySelectorAll('.provenance'))
          .map(p => p.textContent), tables: tables, badges: Array.from(document.querySelectorAll('.v'))
          .filter(b => !isRecord(b)).map(b => b.textContent), scroll: document.documentElement.scrollWidth,
        width: window.innerWidth};
"""


def _pages(report):
    return [report / "index.html"] + sorted(p for p in report.glob("*.html")
                                            if p.name not in ("index.html", "snakemake.html"))


def test_every_page_says_what_produced_it_and_shows_clean_tables(smoke_run, browser, tmp_path):  # noqa: F811
    shots = []
    for page in _pages(smoke_run / "report"):
        browser.get(page.as_uri())
        height = browser.execute_script("return document.documentElement.scrollHeight;")
        browser.set_window_size(1280, min(max(height, 800), 16000))
        shot = tmp_path / f"{page.stem}.png"
        browser.save_screenshot(str(shot))
        shots.append(shot)
        state = browser.execute_script(PAGE_STATE)
        browser.set_window_size(1280, 2000)
        name = page.name
        assert state["provenance"], f"{name}: no provenance line"
        line = state["provenance"][0]
        for part in ("Config: config/config.yaml + config/smoke.yaml", "synthetic seven-segment digits, not MNIST",
                     "steps × batch 32 per run", "seed 0", "commit ", "built "):
            assert part in line, (name, part, line)
        assert state["tables"], f"{name}: no table"
        for table in state["tables"]:
            assert table["bodyHeaders"] == 0 and table["firstHead"], f"{name}: index column in {table['head']}"
            assert not raw_names(table["head"]), f"{name}: raw column names {raw_names(table['head'])}"
        bad = sorted(set(BAD_WORDS.findall(state["text"])))
        assert not bad, f"{name}: shows {bad}"
        assert state["scroll"] <= state["width"], f"{name}: {state['scroll']} px wide in a {state['width']} px window"
        assert "holds" not in state["badges"], f"{name}: the synthetic run is marked 'holds'"
    assert all(s.stat().st_size > 10_000 for s in shots)


def test_the_landing_page_says_the_smoke_run_is_no_reproduction(smoke_run, browser):  # noqa: F811
    browser.get((smoke_run / "report" / "index.html").as_uri())
    state = browser.execute_script(PAGE_STATE)
    assert "not a reproduction" in state["badges"]
    assert "Not paper scale" in state["text"] or "synthetic digits: a test of the workflow" in state["text"]
    assert "no record yet" in state["text"] or "Paper-scale record:" in state["text"]
