"""The landing page ``report/index.html``: the verdicts at a glance, then one thumbnail per report page.

Each section is built from one kind of results file; a section whose file the run did not produce
(e.g. a theory-only run) shows a "not run" note instead:

* claims A and B of paper A (arXiv 2405.05171, §6.3) from Table 4 via :func:`stelab.qat.claims.claims`:
  A holds when Ē(baseline) / Ē(lr-tweak) ∈ [1/f_A, f_A], B when Ē(unadjusted) / Ē(baseline) ≥ f_B
  (f_A = ``CLAIM_A_FACTOR``, f_B = ``CLAIM_B_FACTOR``); the same ratios of the paper's printed Ē
  sit beside ours;
* Table 4 (MNIST columns), ours beside the paper's numbers;
* paper A App. H, L′L+/(2L−²) recomputed vs printed: a printed value counts as reproduced when a
  recomputation rounds to it, |ours − printed| ≤ ½·10^(−d) with d = ``APP_H_PRINTED_DECIMALS``;
* paper B (arXiv 2510.10693) finite-d simulation vs the limit equations: per experiment and limit,
  the largest max |Δε| over the cases (with that case's seed standard error for scale), the mean
  |Δε| over the cases, and the largest Kolmogorov–Smirnov distance of the weight densities.

The page is self-contained: inline CSS, thumbnails embedded as PNG data URIs, links relative to the
page. This module reads the outputs of several tracks, so it sits above them (like ``commands``).
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import pandas as pd

from .io import write_text

#: claim A: the baseline/lr-tweak ratio of Ē lies within this factor of 1
CLAIM_A_FACTOR = 2.0
#: claim B: Ē(unadjusted) is at least this many times Ē(baseline)
CLAIM_B_FACTOR = 2.0
#: App. H prints L′L+/(2L−²) with two decimals
APP_H_PRINTED_DECIMALS = 2
#: thumbnails are scaled down to at most this width (pixels)
THUMBNAIL_WIDTH = 360
#: the notebook whose page holds the details of a section
DETAILS_PAGE = {"claims": "qat", "table4": "qat", "app_h": "constants", "gaps": "theory"}

TABLE4_COLUMNS = ("experiment", "bits", "optimizer", "pair", "E_bar_mean", "E_bar_sd", "E_bar_paper",
                  "agreement_mean", "agreement_sd", "agreement_paper")
APP_H_COLUMNS = ("case", "ours", "ours_edge_L′", "paper")
GAP_COLUMNS = ("experiment", "case", "theory", "quantity", "max_abs_diff", "mean_abs_diff", "seed_sem", "ks")

STYLE = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#222}
h1{font-size:1.6rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.25rem .55rem;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.n{text-align:right;font-variant-numeric:tabular-nums}
.v{display:inline-block;padding:0 .45rem;border-radius:.3rem;font-weight:600}
.yes{background:#d8f0d8;color:#145214} .no{background:#f6d5d5;color:#7a1111} .na{background:#eee;color:#555}
.glance{background:#fafafa;border:1px solid #ddd;border-radius:.4rem;padding:.6rem 1.2rem}
.glance li{margin:.3rem 0} .notrun{color:#555;font-style:italic} .src{color:#666;font-size:.85rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:1rem}
.card{border:1px solid #ddd;border-radius:.4rem;padding:.8rem} .card img{max-width:100%;border:1px solid #eee}
.card p{margin:.3rem 0;color:#444;font-size:.92rem} .nofig{color:#777;font-style:italic}
"""


def _esc(text) -> str:
    return html.escape(str(text))


def _num(value, fmt: str) -> str:
    """A number as text, '–' when missing (never a numpy repr)."""
    if value is None or pd.isna(value):
        return "–"
    return format(float(value), fmt)


def _badge(state: str, text: str) -> str:
    return f'<span class="v {state}">{_esc(text)}</span>'


def _claim_badge(holds) -> str:
    return _badge("yes", "holds") if holds else _badge("no", "fails")


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """An HTML table; cells are HTML already, columns in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "\n".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                      for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _not_run(what: str) -> str:
    return f'<p class="notrun">Not run: {_esc(what)}</p>'


def _read(path, columns, sep: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"landing page input {path} does not exist")
    df = pd.read_csv(path, sep=sep)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    return df


def claims_section(table4) -> tuple[list[str], str]:
    """(at-a-glance items, section HTML) of paper A's claims A and B from Table 4 (``table4`` CSV or None)."""
    if table4 is None:
        note = "the QAT track is not part of this run (no Table 4)."
        return [f"Claims A and B: {_badge('na', 'not run')}"], _not_run(note)
    from .qat.paper_values import OPTIMIZER_LABEL
    from .qat.claims import claims

    t4 = _read(table4, TABLE4_COLUMNS, ",")
    kw = {"comparable": CLAIM_A_FACTOR, "much_larger": CLAIM_B_FACTOR}
    ours = claims(t4, **kw).to_dict("records")
    paper = claims(t4.assign(E_bar_mean=t4["E_bar_paper"]), **kw).to_dict("records")
    rows, verdicts = [], {"A": [], "B": []}
    for o, p in zip(ours, paper):
        who = f"{o['optimizer']} ({OPTIMIZER_LABEL.get(o['optimizer'], o['optimizer'])})"
        row = [_esc(who), _esc(int(o["bits"]))]
        for claim, ratio, missing in (("A", "ratio_baseline_to_lrtweak", "no lr-tweak pair"),
                                      ("B", "ratio_unadjusted_to_baseline", "no unadjusted pair")):
            if pd.isna(o.get(ratio)):
                row += ["–", _num(p.get(ratio), ".2f"), _badge("na", f"not run ({missing})")]
                continue
            holds = bool(o[f"claim_{claim}"])
            verdicts[claim].append(f"{_claim_badge(holds)} {_esc(who)}, {_esc(int(o['bits']))} bit")
            row += [_num(o[ratio], ".2f"), _num(p.get(ratio), ".2f"), _claim_badge(holds)]
        rows.append(row)
    header = ["Optimizer", "Bits", "Ē baseline / Ē lr-tweak", "paper", "Claim A",
              "Ē unadjusted / Ē baseline", "paper", "Claim B"]
    glance = [
        f"Claim A (Ē baseline ≈ Ē lr-tweak, ratio within ×{CLAIM_A_FACTOR:g}): "
        + ("; ".join(verdicts["A"]) or _badge("na", "not run")),
        f"Claim B (Ē unadjusted ≥ {CLAIM_B_FACTOR:g} × Ē baseline): "
        + ("; ".join(verdicts["B"]) or _badge("na", "not run")),
    ]
    text = (f"<p>Mean Ē over seeds (% of the layer's range). Claim A: replacing the STE-net by the Q̂-net "
            f"matters about as much as a 1 % change of η (ratio in [{1 / CLAIM_A_FACTOR:g}, {CLAIM_A_FACTOR:g}]). "
            f"Claim B: without the weight map M the nets drift apart (ratio ≥ {CLAIM_B_FACTOR:g}). "
            "The paper's ratios come from its printed Table 4 (2-bit MNIST).</p>")
    return glance, text + _table(header, rows, numeric={1, 2, 3, 5, 6}) + _source(table4)


def table4_section(table4) -> str:
    """Table 4 (MNIST columns): Ē and quantized weight agreement, ours (mean ± sd) beside the paper's."""
    if table4 is None:
        return _not_run("the QAT track is not part of this run (no Table 4).")
    from .qat.tables import TABLE4_DISPLAY, display_table

    t4 = _read(table4, TABLE4_COLUMNS, ",")
    columns = {**TABLE4_DISPLAY, "Seeds": "n_seeds"} if "n_seeds" in t4.columns else TABLE4_DISPLAY
    shown = display_table(t4, columns)
    rows = [[_esc(v) for v in r] for r in shown.itertuples(index=False, name=None)]
    return _table(list(shown.columns), rows, numeric=set(range(1, len(shown.columns)))) + _source(table4)


def app_h_section(app_h) -> tuple[list[str], str]:
    """(at-a-glance item, section HTML) of App. H: L′L+/(2L−²) recomputed beside the printed values."""
    if app_h is None:
        return [f"App. H: {_badge('na', 'not run')}"], _not_run("the estimator constants are not part of this run.")
    df = _read(app_h, APP_H_COLUMNS, "\t")
    tol = 0.5 * 10.0 ** (-APP_H_PRINTED_DECIMALS) + 1e-12
    rows, n_max, n_edge, n_any = [], 0, 0, 0
    for r in df.to_dict("records"):
        by_max = abs(float(r["ours"]) - float(r["paper"])) <= tol
        by_edge = abs(float(r["ours_edge_L′"]) - float(r["paper"])) <= tol
        n_max, n_edge, n_any = n_max + by_max, n_edge + by_edge, n_any + (by_max or by_edge)
        label = {(True, True): "both", (True, False): "max |Q̂''| only", (False, True): "bin-edge L′ only",
                 (False, False): "neither"}[(by_max, by_edge)]
        rows.append([_esc(r["case"]), _num(r["paper"], f".{APP_H_PRINTED_DECIMALS}f"), _num(r["ours"], ".4f"),
                     _num(r["ours_edge_L′"], ".4f"), _badge("yes" if by_max or by_edge else "no", label)])
    n = len(rows)
    glance = [f"App. H (L′L+/(2L−²)): {_badge('yes' if n_any == n else 'no', f'{n_any}/{n} reproduced')} — "
              f"{n_max}/{n} with L′ = max |Q̂''|, {n_edge}/{n} with L′ evaluated at the bin edge"]
    text = (f"<p>Reproduced: the recomputed value rounds to the printed one ({APP_H_PRINTED_DECIMALS} decimals). "
            "Two readings of L′: the Lipschitz constant of Q̂' (max |Q̂''|) and |Q̂''| at the bin edge, "
            "where the paper evaluates it for DSQ.</p>")
    header = ["Case", "Printed", "Ours, L′ = max |Q̂''|", "Ours, L′ at bin edge", "Reproduced by"]
    return glance, text + _table(header, rows, numeric={1, 2, 3}) + _source(app_h)


def gap_summary(gaps: list) -> pd.DataFrame:
    """One row per (experiment, limit): cases, the worst case's max |Δε| and seed s.e., mean |Δε|, max KS."""
    df = pd.concat([_read(p, GAP_COLUMNS, "\t") for p in gaps], ignore_index=True)
    rows = []
    for (exp, limit), g in df.groupby(["experiment", "theory"], sort=False):
        eps = g[(g["quantity"] == "eps") & g["max_abs_diff"].notna()]
        worst = eps.loc[eps["max_abs_diff"].idxmax()] if len(eps) else None
        rows.append({
            "experiment": exp, "limit": limit, "cases": int(eps["case"].nunique()),
            "max_abs_diff": None if worst is None else float(worst["max_abs_diff"]),
            "worst_case": "" if worst is None else str(worst["case"]),
            "seed_sem": None if worst is None else worst["seed_sem"],
            "mean_abs_diff": float(eps["mean_abs_diff"].mean()) if len(eps) else None,
            "ks": g.loc[g["quantity"] != "eps", "ks"].max(),
        })
    return pd.DataFrame(rows, columns=["experiment", "limit", "cases", "max_abs_diff", "worst_case", "seed_sem",
                                       "mean_abs_diff", "ks"])


def gaps_section(gaps: list) -> tuple[list[str], str]:
    """(at-a-glance item, section HTML) of the simulation-vs-theory gaps of every theory experiment."""
    if not gaps:
        return [f"Theory gaps: {_badge('na', 'not run')}"], _not_run("the theory track is not part of this run.")
    s = gap_summary(gaps)
    rows = [[_esc(r["experiment"]), _esc(r["limit"]), _esc(r["cases"] or "–"), _num(r["max_abs_diff"], ".3g"),
             _esc(r["worst_case"] or "–"), _num(r["seed_sem"], ".3g"), _num(r["mean_abs_diff"], ".3g"),
             _num(r["ks"], ".3g")] for r in s.to_dict("records")]
    glance = []
    eps = s[s["max_abs_diff"].notna()]
    if len(eps):
        w = eps.loc[eps["max_abs_diff"].idxmax()]
        glance.append(f"Theory: largest max |Δε| {_num(w['max_abs_diff'], '.3g')} "
                      f"({_esc(w['experiment'])}, {_esc(w['worst_case'])}, {_esc(w['limit'])})")
    ks = s[s["ks"].notna()]
    if len(ks):
        w = ks.loc[ks["ks"].idxmax()]
        glance.append(f"Theory: largest KS distance of weight densities {_num(w['ks'], '.3g')} "
                      f"({_esc(w['experiment'])}, {_esc(w['limit'])})")
    text = ("<p>|Δε|: seed-mean finite-d ε against each limit curve on the simulation's time grid; the seed "
            "standard error of the worst case gives the scale of the finite-d noise (– with one seed). "
            "KS: simulated weights vs the PDE (or stationary) density per teacher value.</p>")
    header = ["Experiment", "Limit", "Cases", "Largest max |Δε|", "in case", "seed s.e.", "Mean |Δε|",
              "Largest KS"]
    sources = "".join(_source(p) for p in gaps)
    return glance, text + _table(header, rows, numeric={2, 3, 5, 6, 7}) + sources


def notebook_summary(path) -> tuple[str, str]:
    """(title, first paragraph) from an executed notebook's first markdown cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.strip():
            lines = [ln.strip() for ln in cell.source.strip().splitlines()]
            return lines[0].lstrip("# ").strip(), " ".join(ln for ln in lines[1:] if ln).strip()
    return Path(path).stem, ""


def thumbnail(executed, width: int = THUMBNAIL_WIDTH) -> str | None:
    """The first PNG figure of an executed notebook, scaled to ``width`` pixels, as a data URI (None if none)."""
    import nbformat
    from PIL import Image

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            png = out.get("data", {}).get("image/png")
            if png:
                img = Image.open(io.BytesIO(base64.b64decode(png)))
                img.thumbnail((width, 4 * width))
                buf = io.BytesIO()
                img.save(buf, format="PNG", optimize=True)
                return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    return None


def pages_section(pages: list, executed: list, out: Path) -> str:
    """One card per report page: its thumbnail and title link to the page, with the notebook's summary."""
    cards = []
    for page, nb in zip(pages, executed):
        title, summary = notebook_summary(nb)
        href = _esc(os.path.relpath(page, out.parent))
        uri = thumbnail(nb)
        figure = (f'<a href="{href}"><img src="{uri}" alt="{_esc(title)}: first figure"></a>' if uri
                  else '<p class="nofig">(no figure on this page)</p>')
        cards.append(f'<div class="card">{figure}<h3><a href="{href}">{_esc(title)}</a></h3>'
                     f"<p>{_esc(summary)}</p></div>")
    return f'<div class="cards">\n{chr(10).join(cards)}\n</div>'


def _source(path) -> str:
    return f'<p class="src">From <code>{_esc(path)}</code>.</p>'


def _details(section: str, stems: dict, out: Path) -> str:
    page = stems.get(DETAILS_PAGE[section])
    return f' <a class="src" href="{_esc(os.path.relpath(page, out.parent))}">details</a>' if page else ""


def build_index(*, out, title: str, pages: list, executed: list, table4=None, app_h=None, gaps=()) -> None:
    """Write the landing page ``out`` from the report pages, their executed notebooks and the results files.

    ``pages[i]`` is the HTML rendering of the executed notebook ``executed[i]``; ``table4`` (qat_table4.csv),
    ``app_h`` (app_h.tsv) and ``gaps`` (gaps.tsv of each theory experiment) may be absent: their sections
    then say "not run".
    """
    out = Path(out)
    pages, executed = [Path(p) for p in pages], [Path(p) for p in executed]
    if len(pages) != len(executed):
        raise ValueError(f"report index: {len(pages)} pages but {len(executed)} executed notebooks")
    for page, nb in zip(pages, executed):
        if page.stem != nb.stem:
            raise ValueError(f"report index: page {page} does not match executed notebook {nb} (names differ)")
        for f in (page, nb):
            if not f.is_file():
                raise FileNotFoundError(f"landing page input {f} does not exist")
    stems = {p.stem: p for p in pages}
    claims_glance, claims_html = claims_section(table4)
    app_h_glance, app_h_html = app_h_section(app_h)
    gaps_glance, gaps_html = gaps_section(list(gaps))
    glance = "".join(f"<li>{item}</li>" for item in claims_glance + app_h_glance + gaps_glance)
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_esc(title)}</title><style>{STYLE}</style></head>
<body><h1>{_esc(title)}</h1>
<p>Generated by the stelab workflow: paper A (Schoenbauer et al., arXiv 2405.05171) and paper B
(Ichikawa et al., arXiv 2510.10693). Each page below is a papermill-executed notebook (executed copies under
<code>results/notebooks/</code>); the tables summarised here are plain files under <code>results/</code>.</p>
<section id="verdicts"><h2>At a glance</h2><ul class="glance">{glance}</ul></section>
<section id="claims"><h2>Paper A: claims A and B (MNIST){_details("claims", stems, out)}</h2>{claims_html}</section>
<section id="table4"><h2>Paper A Table 4 (MNIST): ours beside the paper{_details("table4", stems, out)}</h2>
{table4_section(table4)}</section>
<section id="app-h"><h2>Paper A App. H: recomputed vs printed{_details("app_h", stems, out)}</h2>{app_h_html}</section>
<section id="theory-gaps"><h2>Paper B: finite-d simulation vs the limit equations{_details("gaps", stems, out)}</h2>
{gaps_html}</section>
<section id="pages"><h2>Report pages</h2>
{pages_section(pages, executed, out)}</section>
</body></html>
"""
    write_text(out, doc)
