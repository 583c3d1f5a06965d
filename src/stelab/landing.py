"""The landing page ``report/index.html``: what produced it, the verdicts at a glance, then one thumbnail
per report page.

It opens with the provenance line (:mod:`stelab.report.provenance`: configs, data, QAT scale, seeds,
commit, date). Each section is built from one kind of results file; a section whose file the run did
not produce (e.g. a theory-only run) shows a "not run" note instead:

* claims A and B of paper A (arXiv 2405.05171, §6.3) over seeds (:func:`stelab.qat.claims.claims_over_seeds`:
  geometric-mean ratio, 95 % t-interval, verdict and rule), the paper's ratio beside; a run on
  synthetic digits says "not a reproduction" instead of a verdict;
* Table 4 (MNIST columns) in the normalisation the paper is compared in, ours beside the paper's and
  beside the paper-scale record (``docs/reproduction/mnist/record/``) when it exists, with the scale
  note of a run that is not at paper scale;
* paper A App. H, L′L+/(2L−²) recomputed vs printed: a printed value counts as reproduced when a
  recomputation rounds to it, |ours − printed| ≤ ½·10^(−d) with d = ``APP_H_PRINTED_DECIMALS``;
* paper B (arXiv 2510.10693) finite-d simulation vs the limit equations, each gap with its verdict,
  rule and scale (:mod:`stelab.theory.verdicts`) and the figure that draws it.

Every table goes through the one renderer (:mod:`stelab.report.tables`). The page is self-contained:
inline CSS, thumbnails embedded as PNG data URIs, links relative to the page. This module reads the
outputs of several tracks, so it sits above them (like ``commands``).
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import pandas as pd

from .io import write_text
from .report import provenance as prov
from .report.tables import STYLE as TABLE_STYLE
from .report.tables import Col, badge, to_html

#: App. H prints L′L+/(2L−²) with two decimals
APP_H_PRINTED_DECIMALS = 2
#: thumbnails are scaled down to at most this width (pixels)
THUMBNAIL_WIDTH = 360
#: the notebook whose page holds the details of a section
DETAILS_PAGE = {"claims": "qat", "table4": "qat", "app_h": "constants", "gaps": "theory"}

TABLE4_COLUMNS = ("experiment", "bits", "optimizer", "pair", "E_bar_mean", "E_bar_sd", "E_bar_paper",
                  "agreement_mean", "agreement_sd", "agreement_paper")
APP_H_COLUMNS = ("case", "ours", "ours_edge_L′", "paper")
PAIRS_COLUMNS = ("bits", "optimizer", "pair", "seed", "sweep_factor", "E_bar", "diverged")

STYLE = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#222}
h1{font-size:1.6rem} h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.provenance{background:#f5f7fa;border-left:4px solid #8aa;padding:.4rem .8rem;font-size:.9rem}
.glance{background:#fafafa;border:1px solid #ddd;border-radius:.4rem;padding:.6rem 1.2rem}
.glance li{margin:.3rem 0} .notrun{color:#555;font-style:italic} .src{color:#666;font-size:.85rem}
.scale{color:#6b4a00;font-weight:600}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:1rem}
.card{border:1px solid #ddd;border-radius:.4rem;padding:.8rem} .card img{max-width:100%;border:1px solid #eee}
.card p{margin:.3rem 0;color:#444;font-size:.92rem} .nofig{color:#777;font-style:italic}
""" + TABLE_STYLE


def _esc(text) -> str:
    return html.escape(str(text))


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


def record_summary(record) -> dict | None:
    """The paper-scale record's tables (``record/tables/``), its seeds and commits; None when there is none."""
    if not record:
        return None
    tables = Path(record) / "tables"
    if not (tables / "slices.csv").is_file():
        return None
    slices = pd.read_csv(tables / "slices.csv")
    out = {"slices": slices, "n_seeds": int(slices["seed"].nunique()),
           "commits": sorted({str(c)[:10] for c in slices["commit"]})}
    for name in ("qat_table4", "claims"):
        f = tables / f"{name}.csv"
        out[name] = pd.read_csv(f) if f.is_file() else None
    return out


def record_line(rec: dict | None) -> str:
    """'The record: n seeds, commit …' or 'no record yet'."""
    if rec is None:
        return "Paper-scale record: no record yet (docs/reproduction/mnist/record/ has no assembled tables)."
    return (f"Paper-scale record: {rec['n_seeds']} seed{'s' if rec['n_seeds'] != 1 else ''}, "
            f"{len(rec['slices'])} slices, commit {', '.join(rec['commits'])} (docs/reproduction/mnist/record/).")


def claims_section(pairs, table4, facts: dict, rec: dict | None) -> tuple[list[str], str]:
    """(at-a-glance items, section HTML) of paper A's claims A and B over seeds, the record's beside."""
    if pairs is None:
        note = "the QAT track is not part of this run (no comparison rows)."
        return [f"Claims A and B: {badge('not run')}"], _not_run(note)
    from .qat import display as qd
    from .qat.claims import RULES, claims_over_seeds

    ours = qd.claims_table(claims_over_seeds(_read(pairs, PAIRS_COLUMNS, "\t")),
                           _read(table4, TABLE4_COLUMNS, ",") if table4 else None, facts)
    glance = []
    for claim in ("A", "B"):
        rows = ours[ours["claim"] == claim]
        items = "; ".join(f"{badge(v)} {_esc(qd.OPTIMIZER_NAMES.get(o, o))}, {b} bit"
                          for o, b, v in zip(rows["optimizer"], rows["bits"], rows["verdict"]))
        glance.append(f"Claim {claim} ({_esc(RULES[claim])}): {items or badge('not run')}")
    html_out = ("<p>Claim A: replacing the STE-net by the Q̂-net moves the weights about as much as a 1 % change "
                "of η. Claim B: without the weight map M the nets drift apart. Ratios of Ē per seed, summarised "
                "by their geometric mean and a 95 % t-interval; the paper's ratios come from its printed Table 4 "
                "(2-bit MNIST, no seeds).</p>" + to_html(ours, qd.CLAIMS, caption="This run.") + _source(pairs))
    if rec is not None and rec.get("claims") is not None:
        rc = qd.claims_table(rec["claims"], rec.get("qat_table4"), {"data_source": "download"})
        html_out += to_html(rc, qd.CLAIMS, caption=record_line(rec), style=False)
        glance.append("Record: " + "; ".join(f"claim {c} {badge(v)} {_esc(qd.OPTIMIZER_NAMES.get(o, o))}, {b} bit"
                                             for c, o, b, v in zip(rc["claim"], rc["optimizer"], rc["bits"],
                                                                   rc["verdict"])))
    return glance, html_out


def table4_section(table4, facts: dict, rec: dict | None) -> str:
    """Table 4 (MNIST columns) in the compared normalisation: this run beside the paper and the record."""
    if table4 is None:
        return _not_run("the QAT track is not part of this run (no Table 4).")
    from .qat import display as qd
    from .qat.paper_values import COMPARED_AS, OVER_PAPER

    t4 = _read(table4, TABLE4_COLUMNS, ",")
    key = ["bits", "optimizer", "pair"]
    label = qd.E_BAR_LABELS[COMPARED_AS]
    cols = [Col("Experiment", "experiment", "text"), Col("Ē paper (%)", "E_bar_paper", "printed"),
            Col(f"This run: {label}", (f"{COMPARED_AS}_mean", f"{COMPARED_AS}_sd"), "pm"),
            Col("This run ÷ paper", OVER_PAPER, "sig")]
    if rec is not None and rec.get("qat_table4") is not None:
        r4 = rec["qat_table4"][key + [f"{COMPARED_AS}_mean", f"{COMPARED_AS}_sd", OVER_PAPER,
                                      "agreement_mean", "agreement_sd"]]
        t4 = t4.merge(r4.add_prefix("record_").rename(columns={f"record_{k}": k for k in key}), on=key, how="left")
        cols += [Col(f"Record: {label}", (f"record_{COMPARED_AS}_mean", f"record_{COMPARED_AS}_sd"), "pm"),
                 Col("Record ÷ paper", f"record_{OVER_PAPER}", "sig")]
    cols += [Col("Agreement paper (%)", "agreement_paper", "printed"),
             Col("This run: agreement (%)", ("agreement_mean", "agreement_sd"), "pm", decimals=2)]
    if rec is not None and rec.get("qat_table4") is not None:
        cols.append(Col("Record: agreement (%)", ("record_agreement_mean", "record_agreement_sd"), "pm", decimals=2))
    cols.append(Col("Seeds", "n_seeds", "int"))
    note = f'<p class="scale">{_esc(prov.scale_note(facts))}</p>'
    return note + to_html(t4, cols, caption=record_line(rec), style=False) + _source(table4)
def app_h_section(app_h) -> tuple[list[str], str]:
    """(at-a-glance item, section HTML) of App. H: L′L+/(2L−²) recomputed beside the printed values."""
    if app_h is None:
        return [f"App. H: {badge('not run')}"], _not_run("the estimator constants are not part of this run.")
    df = _read(app_h, APP_H_COLUMNS, "\t")
    tol = 0.5 * 10.0 ** (-APP_H_PRINTED_DECIMALS) + 1e-12
    by_max = (df["ours"] - df["paper"]).abs() <= tol
    by_edge = (df["ours_edge_L′"] - df["paper"]).abs() <= tol
    readings = {(True, True): "both", (True, False): "max |Q̂''| only", (False, True): "bin-edge L′ only",
                (False, False): "neither"}
    shown = df.assign(reading=[badge(readings[(m, e)], "yes" if m or e else "no") for m, e in zip(by_max, by_edge)])
    n, n_any = len(df), int((by_max | by_edge).sum())
    glance = [f"App. H (L′L+/(2L−²)): {badge(f'{n_any}/{n} reproduced', 'yes' if n_any == n else 'no')} — "
              f"{int(by_max.sum())}/{n} with L′ = max |Q̂''|, {int(by_edge.sum())}/{n} with L′ evaluated at the bin edge"]
    text = (f"<p>Reproduced: the recomputed value rounds to the printed one ({APP_H_PRINTED_DECIMALS} decimals). "
            "Two readings of L′: the Lipschitz constant of Q̂' (max |Q̂''|) and |Q̂''| at the bin edge, "
            "where the paper evaluates it for DSQ. Drawn: Fig. 1 on the estimator page.</p>")
    cols = [Col("Case", "case", "text"), Col("Printed", "paper", "printed", decimals=APP_H_PRINTED_DECIMALS),
            Col("Ours, L′ = max |Q̂''|", "ours", "fixed", 4), Col("Ours, L′ at bin edge", "ours_edge_L′", "fixed", 4),
            Col("Reproduced by", "reading", "html")]
    return glance, text + to_html(shown, cols, style=False) + _source(app_h)


def gaps_section(gaps: list) -> tuple[list[str], str]:
    """(at-a-glance items, section HTML): each simulation-vs-limit gap with its verdict, rule, scale and figure."""
    if not gaps:
        return [f"Theory gaps: {badge('not run')}"], _not_run("the theory track is not part of this run.")
    from .commands.figures import THEORY_FIGURES, error_curves_figure
    from .theory.display import GAP_SUMMARY
    from .theory.verdicts import EPS_RULE, KS_RULE, gap_summary, read_gaps

    s = gap_summary(read_gaps(gaps))
    s["figure"] = [f"{THEORY_FIGURES['bridge'] if e == 'bridge' else error_curves_figure(e)}"
                   + (f", {THEORY_FIGURES['density']}" if e == "density" and lim != "closure" else "")
                   for e, lim in zip(s["experiment"], s["theory"])]
    glance = []
    eps = s[s["max_abs_diff"].notna()]
    if len(eps):
        w = eps.loc[eps["max_abs_diff"].idxmax()]
        glance.append(f"Theory: largest max |Δε| {_esc(f'{w.max_abs_diff:.3g}')} ({_esc(w['experiment'])}, "
                      f"{_esc(w['worst_case'])}, {_esc(w['limit'])}) {badge(w['eps_verdict'])} — {_esc(EPS_RULE)}; "
                      f"drawn in {_esc(w['figure'])}")
        counts = eps["eps_verdict"].value_counts()
        glance.append("Theory ε gaps: " + ", ".join(f"{badge(v)} {n}" for v, n in counts.items()))
    ks = s[s["ks"].notna()]
    if len(ks):
        w = ks.loc[ks["ks"].idxmax()]
        glance.append(f"Theory: largest KS distance of weight densities {_esc(f'{w.ks:.3g}')} "
                      f"({_esc(w['experiment'])}, {_esc(w['limit'])}) {badge(w['ks_verdict'])} — {_esc(KS_RULE)}")
    text = (f"<p>|Δε|: seed-mean finite-d ε against each limit curve on the simulation's time grid. Rules: ε "
            f"{_esc(EPS_RULE)}; densities {_esc(KS_RULE)}. Every gap is drawn in the figure named beside it "
            "(<code>results/figures/theory/</code>).</p>")
    cols = GAP_SUMMARY + [Col("Drawn in", "figure", "text")]
    return glance, text + to_html(s, cols, style=False) + "".join(_source(p) for p in gaps)


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


def build_index(*, out, title: str, pages: list, executed: list, provenance, table4=None, pairs=None, app_h=None,
                gaps=(), record=None) -> None:
    """Write the landing page ``out`` from the report pages, their executed notebooks and the results files.

    ``pages[i]`` is the HTML rendering of the executed notebook ``executed[i]``; ``provenance`` is the
    JSON of ``stelab report provenance``; ``table4`` (qat_table4.csv), ``pairs`` (pairs.tsv), ``app_h``
    (app_h.tsv) and ``gaps`` (gaps.tsv of each theory experiment) may be absent: their sections then say
    "not run"; ``record`` is the paper-scale record's folder (absent or without tables: "no record yet").
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
    facts = prov.read(provenance)
    rec = record_summary(record)
    stems = {p.stem: p for p in pages}
    claims_glance, claims_html = claims_section(pairs, table4, facts, rec)
    app_h_glance, app_h_html = app_h_section(app_h)
    gaps_glance, gaps_html = gaps_section(list(gaps))
    scale = [] if facts.get("paper_scale") or not facts.get("qat") else [f'<span class="scale">{_esc(prov.scale_note(facts))}</span>']
    glance = "".join(f"<li>{item}</li>" for item in scale + claims_glance + app_h_glance + gaps_glance)
    doc = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>{_esc(title)}</title><style>{STYLE}</style></head>
<body><h1>{_esc(title)}</h1>
{prov.to_html(facts)}
<p>Generated by the stelab workflow: paper A (Schoenbauer et al., arXiv 2405.05171) and paper B
(Ichikawa et al., arXiv 2510.10693). Each page below is a papermill-executed notebook (executed copies under
<code>results/notebooks/</code>); the tables summarised here are plain files under <code>results/</code>.</p>
<section id="verdicts"><h2>At a glance</h2><ul class="glance">{glance}</ul></section>
<section id="claims"><h2>Paper A: claims A and B ({_esc(facts.get("data", "MNIST"))}){_details("claims", stems, out)}</h2>
{claims_html}</section>
<section id="table4"><h2>Paper A Table 4 (MNIST): ours beside the paper and the record{_details("table4", stems, out)}</h2>
{table4_section(table4, facts, rec)}</section>
<section id="app-h"><h2>Paper A App. H: recomputed vs printed{_details("app_h", stems, out)}</h2>{app_h_html}</section>
<section id="theory-gaps"><h2>Paper B: finite-d simulation vs the limit equations{_details("gaps", stems, out)}</h2>
{gaps_html}</section>
<section id="pages"><h2>Report pages</h2>
{pages_section(pages, executed, out)}</section>
</body></html>
"""
    write_text(out, doc)
