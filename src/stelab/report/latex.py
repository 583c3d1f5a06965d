r"""LaTeX tables that compile with pdflatex: escaping, booktabs rules, math for the papers' symbols.

The report tables use the notation of paper A (arXiv 2405.05171): Ē (normalised weight alignment
error, §6.2), η, Q̂, α (eq. 4), L−, L+, L′ (Theorem 5.1) and mean ± sd. Raw Unicode breaks pdflatex and
an unescaped ``%`` comments out the rest of a row (its ``\\`` included), so every cell and header is
translated: the symbols of :data:`MATH` become math (``$\bar{E}$``, ``$\eta$``, ``$\hat{Q}$``, …),
adjacent math is merged into one ``$…$``, the characters of :data:`TEXT` get their text form (``--``,
``\%``, ``\_``, …). A character that is neither ASCII nor in these tables is an error naming it and
the cell, so no table that cannot compile is written.

:func:`latex_tabular` returns a ``tabular`` with booktabs rules (``\toprule``, ``\midrule``,
``\bottomrule``): include it with ``\input`` inside a ``table`` float of a document that loads
``booktabs``. Columns of numbers (``1.23``, ``1.23 ± 0.04``, ``–``) are right-aligned and set in math
mode (a true minus sign, ``\pm``), long text wraps in a ``p`` column, other text is left-aligned.
"""

from __future__ import annotations

import math
import re

from ..io import write_text

#: Unicode → math-mode LaTeX (longest match first: Q̂' before Q̂, L′ before ′)
MATH = {
    "Q̂'": r"\hat{Q}'", "Q̂′": r"\hat{Q}'", "Q̂": r"\hat{Q}", "Ē": r"\bar{E}", "ŵ": r"\hat{w}",
    "L′": "L'", "L−": "L_-", "L+": "L_+",
    "α": r"\alpha", "β": r"\beta", "Δ": r"\Delta", "Σ": r"\Sigma", "δ": r"\delta", "ε": r"\varepsilon", "η": r"\eta",
    "θ": r"\theta", "μ": r"\mu", "ρ": r"\rho", "σ": r"\sigma", "τ": r"\tau", "ω": r"\omega", "ξ": r"\xi",
    "±": r"\pm", "×": r"\times", "÷": r"\div", "−": "-", "·": r"\cdot", "≈": r"\approx", "≥": r"\geq", "≤": r"\leq",
    "≫": r"\gg", "≪": r"\ll", "→": r"\to", "∞": r"\infty", "√": r"\surd", "′": "'", "⁻¹": "^{-1}",
    "₀": "_0", "₁": "_1", "₂": "_2", "²": "^2", "³": "^3", "ᵀ": "^T",
}
#: characters with a text-mode form: LaTeX specials escaped, typographic punctuation as TeX ligatures
TEXT = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
    ">": r"\textgreater{}", "|": r"\textbar{}", "–": "--", "—": "---", "‘": "`", "’": "'", "“": "``",
    "”": "''", "…": r"\dots{}", "\u00a0": "~",
}
#: tokens starting with a Latin letter (L′, Q̂, …) match only at the start of a word
_TOKEN = re.compile("|".join(("(?<![A-Za-z])" if k[0].isascii() and k[0].isalpha() else "") + re.escape(k)
                             for k in sorted([*MATH, *TEXT], key=len, reverse=True)))
_NUMBER = r"[-+−]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
#: a numeric cell: a number, optionally ± a number, or the missing-value dash
_NUMERIC = re.compile(rf"^\s*(?:{_NUMBER}(?:\s*±\s*{_NUMBER})?|[-+]?inf|–)\s*$")
#: cells longer than this many characters wrap in a p{WRAP_WIDTH} column
WRAP_AFTER = 40
WRAP_WIDTH = "5cm"


def latex_escape(text: str, where: str = "cell") -> str:
    """``text`` as LaTeX for pdflatex: symbols of :data:`MATH` in math mode (adjacent ones merged),
    characters of :data:`TEXT` in their text form; ``where`` names the cell in errors."""
    parts: list[tuple[str, str]] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        parts.extend(_plain(text[pos:match.start()], where))
        token = match.group()
        parts.append(("math", MATH[token]) if token in MATH else ("text", TEXT[token]))
        pos = match.end()
    parts.extend(_plain(text[pos:], where))
    out, math_run = [], []
    for kind, value in parts + [("text", "")]:
        if kind == "math":
            math_run.append(value)
            continue
        if math_run:
            out.append("$" + "".join(math_run) + "$")
            math_run = []
        out.append(value)
    return "".join(out)


def _plain(text: str, where: str) -> list[tuple[str, str]]:
    bad = sorted({ch for ch in text if ord(ch) > 127})
    if bad:
        names = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in bad)
        raise ValueError(f"{where}: {names} has no LaTeX form in stelab.report.latex (add it to MATH or TEXT)")
    return [("text", text)] if text else []


def _cell(value) -> str:
    """A table value as text: floats with 4 significant digits, NaN/None as the missing-value dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def number_latex(cell: str) -> str:
    """A numeric cell (see :func:`column_format`) in math mode: ``$-0.06 \\pm 0.01$``, ``$\\infty$``; the
    missing-value dash as ``--``."""
    cell = cell.strip()
    if cell == "–":
        return "--"
    body = cell.replace("−", "-").replace("±", r"\pm").replace("inf", r"\infty")
    return "$" + re.sub(r"\s+", " ", body) + "$"


def column_format(cells: list[str]) -> str:
    """``r`` for a column of numbers, ``p{WRAP_WIDTH}`` for long text, ``l`` otherwise."""
    if cells and all(_NUMERIC.match(c) for c in cells):
        return "r"
    if any(len(c) > WRAP_AFTER for c in cells):
        return f"p{{{WRAP_WIDTH}}}"
    return "l"


def latex_tabular(df, where: str = "table") -> str:
    r"""``df`` as a booktabs ``tabular`` (header row, ``\midrule``, one row per record); headers are
    stripped of surrounding blanks (display tables pad repeated headers with spaces to keep them
    unique). ``where`` names the table in errors."""
    headers = [str(c).strip() for c in df.columns]
    rows = [[_cell(v) for v in record] for record in df.itertuples(index=False, name=None)]
    formats = [column_format([row[j] for row in rows]) for j in range(len(headers))]
    lines = [r"\begin{tabular}{" + "".join(formats) + "}", r"\toprule"]
    lines.append(" & ".join(latex_escape(h, f"{where}, header {h!r}") for h in headers) + r" \\")
    lines.append(r"\midrule")
    for i, row in enumerate(rows):
        cells = [number_latex(c) if fmt == "r" else latex_escape(c, f"{where}, row {i + 1}, column {h!r}")
                 for c, h, fmt in zip(row, headers, formats)]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"


def write_latex_table(path, df) -> None:
    """Write ``df`` as a booktabs ``tabular`` to ``path`` (atomically; errors name the file)."""
    write_text(path, latex_tabular(df, where=str(path)))
