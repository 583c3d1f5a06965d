"""One table renderer for every report page: the notebooks and the landing page (:mod:`stelab.landing`).

A table is a list of :class:`Col` specs over a results table: each names its source column (or a
(mean, sd) pair), its label with the unit in parentheses and how its numbers are written. The
rendering rules hold for every page:

* no index column; every column labelled by its ``label`` (never a raw ``snake_case`` name);
* numbers in a fixed number of significant digits (``sig``) or decimals (``fixed``), the unicode
  minus, no exponent notation between 10⁻³ and 10⁶ (outside: ``1.23 × 10⁻⁴``);
* a paper's value as it is printed there (``printed``): the shortest decimal that gives the stored
  float (0.515, 98.31, 95.4), padded to the decimals the paper uses in that column (0.1270);
* a missing value (None, NaN) as ``–``, ±inf as ``∞``, booleans as yes/no: no ``NaN``, ``inf`` or
  ``True`` reaches a page;
* verdicts as coloured badges (:func:`badge`).

:func:`render` gives the cell texts as a DataFrame (:func:`plain`: without HTML, for LaTeX), :func:`to_html` an HTML table (scrolls inside its
own box, so a wide table never widens the page), and :class:`Table` both, displayed by Jupyter.
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the text of a missing value
MISSING = "–"
#: numbers this small or large are written as a × 10ⁿ
SCIENTIFIC_BELOW, SCIENTIFIC_FROM = 1e-3, 1e6
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: badge state of each verdict text (anything else is neutral)
VERDICT_STATE = {"holds": "yes", "agrees": "yes", "reproduced": "yes", "consistent": "yes",
                 "fails": "no", "differs": "no", "not reproduced": "no"}
#: the style of every rendered table and badge (inline: pages are self-contained)
STYLE = """
.stelab-table{overflow-x:auto;max-width:100%;margin:.6rem 0}
.stelab-table table{border-collapse:collapse;font-size:.9rem}
.stelab-table th,.stelab-table td{border:1px solid #ccc;padding:.25rem .55rem;text-align:left;vertical-align:top}
.stelab-table th{background:#f3f3f3;font-weight:600}
.stelab-table td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.stelab-table caption{caption-side:bottom;text-align:left;color:#555;font-size:.85rem;padding-top:.3rem}
.v{display:inline-block;padding:0 .45rem;border-radius:.3rem;font-weight:600;white-space:nowrap}
.v.yes{background:#d8f0d8;color:#145214}.v.no{background:#f6d5d5;color:#7a1111}.v.na{background:#eee;color:#555}
.v.warn{background:#fbeccb;color:#6b4a00}
"""
_SNAKE = re.compile(r"^[a-z0-9]+(_[a-z0-9]+)+$")
_FLOAT = re.compile(r"-?\d+\.\d+(?:e[-+]?\d+)?")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        not isinstance(value, (str, bool)) and pd.isna(value))


def _minus(text: str) -> str:
    """A typographic minus; none on a number that rounds to zero (−0.00 → 0.00)."""
    if text.startswith("-") and set(filter(str.isdigit, text)) <= {"0"}:
        return text[1:]
    return text.replace("-", "−") if text.startswith("-") else text


def _scientific(v: float, digits: int) -> str:
    mantissa, exponent = f"{v:.{max(digits - 1, 0)}e}".split("e")
    return _minus(f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}")


def _special(value) -> str | None:
    """The text of a value that is not a finite number (– for missing, ∞, yes/no), else None."""
    if _missing(value):
        return MISSING
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if math.isinf(float(value)):
        return "∞" if value > 0 else "−∞"
    return None


def decimals_for(value: float, digits: int) -> int:
    """Decimals that show ``value`` with ``digits`` significant digits (0 for large values)."""
    if value == 0:
        return max(digits - 1, 0)
    return max(digits - 1 - math.floor(math.log10(abs(value))), 0)


def sig(value, digits: int = 3) -> str:
    """``value`` with ``digits`` significant digits (0.0197, 1.01, 472; 1.23 × 10⁻⁴ below 10⁻³)."""
    special = _special(value)
    if special is not None:
        return special
    v = float(value)
    if v != 0 and not SCIENTIFIC_BELOW <= abs(v) < SCIENTIFIC_FROM:
        return _scientific(v, digits)
    return _minus(f"{v:.{decimals_for(v, digits)}f}")


def fixed(value, decimals: int = 2) -> str:
    """``value`` with ``decimals`` decimals (97.05, 0.1439)."""
    special = _special(value)
    return special if special is not None else _minus(f"{float(value):.{decimals}f}")


def printed(value, decimals: int = 0) -> str:
    """A paper's number as printed: the shortest decimal of the stored float, at least ``decimals`` decimals."""
    special = _special(value)
    if special is not None:
        return special
    text = repr(float(value))
    whole, _, frac = text.partition(".")
    frac = "" if frac == "0" else frac
    frac = frac.ljust(decimals, "0")
    return _minus(f"{whole}.{frac}" if frac else whole)


def spec(text, digits: int = 4) -> str:
    """A spec string with its floats at ``digits`` significant digits: ``pwl(lo=-1.1005716459309336)`` →
    ``pwl(lo=−1.101)``."""
    special = _special(text) if not isinstance(text, str) else None
    if special is not None:
        return special
    def short(m):
        return _minus(m.group()) if len(m.group().lstrip("-")) <= digits + 1 else sig(float(m.group()), digits)

    return _FLOAT.sub(short, str(text))


def integer(value) -> str:
    """A count or bit width (2, not 2.0)."""
    special = _special(value)
    return special if special is not None else _minus(str(int(round(float(value)))))


def pm(mean, sd, digits: int = 3, decimals: int | None = None) -> str:
    """'mean ± sd': both with the decimals of ``mean`` at ``digits`` significant digits (or ``decimals``);
    the sd is left out when undefined (one seed)."""
    if _missing(mean) or _special(mean) is not None:
        return _special(mean)
    d = decimals if decimals is not None else decimals_for(float(mean), digits)
    text = fixed(mean, d)
    return text if _special(sd) is not None else f"{text} ± {fixed(sd, d)}"


def badge(text: str, state: str | None = None) -> str:
    """A verdict as a coloured badge (HTML); ``state`` yes/no/na/warn, by default from :data:`VERDICT_STATE`."""
    state = state or VERDICT_STATE.get(str(text), "na")
    return f'<span class="v {state}">{html.escape(str(text))}</span>'


@dataclass(frozen=True)
class Col:
    """One displayed column: ``label`` (with unit) from ``source`` (a column, or a (mean, sd) pair).

    ``kind``: ``sig`` (``digits`` significant digits), ``fixed`` (``digits`` decimals), ``pm`` (mean ±
    sd, ``digits`` significant digits of the mean, or fixed decimals when ``decimals`` is set),
    ``printed`` (a paper's value, at least ``decimals`` decimals), ``int``, ``text`` (``names`` maps
    code ids to readable names), ``spec`` (text whose floats get 4 significant digits), ``verdict``
    (a badge) or ``html`` (trusted HTML from the caller).
    """

    label: str
    source: str | tuple[str, str]
    kind: str = "sig"
    digits: int = 3
    decimals: int | None = None
    names: dict | None = None

    @property
    def numeric(self) -> bool:
        return self.kind in ("sig", "fixed", "pm", "printed", "int")

    def sources(self) -> tuple[str, ...]:
        return self.source if isinstance(self.source, tuple) else (self.source,)

    def cell(self, row: dict) -> str:
        """The text of this column in ``row`` (HTML-safe except for ``html`` and ``verdict``)."""
        if self.kind == "pm":
            return pm(row[self.source[0]], row[self.source[1]], self.digits, self.decimals)
        value = row[self.source]
        if self.kind == "sig":
            return sig(value, self.digits)
        if self.kind == "fixed":
            return fixed(value, self.digits)
        if self.kind == "printed":
            return printed(value, self.decimals or 0)
        if self.kind == "int":
            return integer(value)
        if self.kind == "spec":
            return html.escape(spec(value))
        if self.kind == "verdict":
            return MISSING if _missing(value) or value == "" else badge(value)
        if self.kind == "html":
            return MISSING if _missing(value) else str(value)
        if self.kind == "text":
            special = _special(value) if not isinstance(value, str) else (MISSING if value == "" else None)
            text = special if special is not None else str(value)
            return html.escape((self.names or {}).get(text, text))
        raise ValueError(f"column {self.label!r}: unknown kind {self.kind!r}")


def present(table: pd.DataFrame, columns: list[Col]) -> list[Col]:
    """The columns whose sources ``table`` has with a value somewhere (a table written before a column
    existed, or a column empty in this run, e.g. ``E_bar_path`` of old comparisons, is left out)."""
    return [c for c in columns if all(s in table.columns for s in c.sources())
            and table[c.sources()[0]].notna().any()]


def render(table: pd.DataFrame, columns: list[Col], keep_empty: bool = False) -> pd.DataFrame:
    """The cell texts of ``table`` under ``columns`` (labels as column names, a plain 0..n−1 index).

    ``keep_empty``: keep a column with no value (it then shows –) instead of leaving it out.
    """
    cols = [c for c in columns if all(s in table.columns for s in c.sources())] if keep_empty \
        else present(table, columns)
    rows = table.to_dict("records")
    return pd.DataFrame({c.label: [c.cell(r) for r in rows] for c in cols}, columns=[c.label for c in cols])


def plain(table: pd.DataFrame, columns: list[Col]) -> pd.DataFrame:
    """:func:`render` as plain text (LaTeX tables): no HTML escapes, verdicts as their words."""
    cols = [dataclasses.replace(c, kind="text") if c.kind == "verdict" else c for c in columns]
    return render(table, cols).map(html.unescape)


def to_markdown(table: pd.DataFrame, columns: list[Col]) -> str:
    """A GitHub pipe table of ``table`` under ``columns`` (:func:`plain` texts; ``|`` escaped)."""
    shown = plain(table, columns)

    def row(cells) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    lines = [row(shown.columns), "|" + "---|" * len(shown.columns)]
    lines += [row(r) for r in shown.itertuples(index=False, name=None)]
    return "\n".join(lines) + "\n"


def raw_names(labels) -> list[str]:
    """The labels that look like code ids (``snake_case``): none may reach a page."""
    return [label for label in labels if _SNAKE.match(str(label))]


def to_html(table: pd.DataFrame, columns: list[Col], caption: str | None = None, keep_empty: bool = False,
            style: bool = True) -> str:
    """An HTML table of ``table`` under ``columns`` (see the module's rules), in a box that scrolls
    sideways rather than widen the page; ``caption`` (plain text) below it."""
    shown = render(table, columns, keep_empty)
    by_label = {c.label: c for c in columns}
    head = "".join(f"<th>{html.escape(label)}</th>" for label in shown.columns)
    numeric = [by_label[label].numeric for label in shown.columns]
    body = "\n".join("<tr>" + "".join(f'<td class="n">{v}</td>' if n else f"<td>{v}</td>"
                                      for v, n in zip(row, numeric)) + "</tr>"
                     for row in shown.itertuples(index=False, name=None))
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    css = f"<style>{STYLE}</style>" if style else ""
    return (f'{css}<div class="stelab-table"><table>{cap}<thead><tr>{head}</tr></thead>'
            f"<tbody>\n{body}\n</tbody></table></div>")


class Table:
    """A rendered table for a notebook cell: Jupyter shows its HTML, and ``.frame`` holds the cell texts."""

    def __init__(self, table: pd.DataFrame, columns: list[Col], caption: str | None = None,
                 keep_empty: bool = False):
        self.frame = render(table, columns, keep_empty)
        self._html = to_html(table, columns, caption, keep_empty)

    def _repr_html_(self) -> str:
        return self._html


def note(text: str, state: str = "na") -> str:
    """A one-line remark under a table (HTML), e.g. why a run is not at paper scale."""
    return f'<p class="stelab-note {state}">{html.escape(text)}</p>'
