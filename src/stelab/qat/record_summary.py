"""The record's summary as Markdown: what README.md shows of the paper-scale record (paper A, arXiv
2405.05171, Tables 4–5 and claims A and B over seeds).

:func:`summary_markdown` renders the tables that :func:`stelab.qat.record.assemble_record` wrote
(Table 4 and Table 5 per bit width, the claims with their intervals and rules, the slices with their
commits and wall times) with the report's column specs (:mod:`stelab.qat.display`), so the README,
the report pages and the LaTeX tables print the same digits. :func:`replace_block` puts it between
the markers :data:`BEGIN` and :data:`END` of a Markdown file; ``stelab record-tables --readme`` does
both, and a test checks that README.md's block is the rendering of the committed tables.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..io import write_text
from ..report.tables import Col, to_markdown
from . import display
from .record import RECORD_FACTS, SLICE_NAME

BEGIN = "<!-- record-tables: begin (written by `stelab record-tables --readme README.md`; do not edit) -->"
END = "<!-- record-tables: end -->"
#: the tables of ``record/tables/`` the summary reads
TABLES = ("qat_table4", "qat_table5", "claims", "slices")
SLICE_COLUMNS = [Col("Slice", "slice", "text"), Col("Commit", "commit_short", "text"),
                 Col("Wall time (min)", "wall_min", "fixed", 0), Col("Job time (min)", "job_min", "fixed", 0),
                 Col("Jobs", "jobs", "int")]


def read_tables(tables_dir) -> dict:
    """{name: DataFrame} of :data:`TABLES` from ``tables_dir`` (CSV as written by ``record-tables``)."""
    tables_dir = Path(tables_dir)
    missing = [n for n in TABLES if not (tables_dir / f"{n}.csv").is_file()]
    if missing:
        raise FileNotFoundError(f"{tables_dir}: no {', '.join(f'{n}.csv' for n in missing)}; "
                                "run `stelab record-tables` first")
    return {n: pd.read_csv(tables_dir / f"{n}.csv") for n in TABLES}


def _count(n, noun: str) -> str:
    """'1 bit', '2 bits'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary_markdown(tables: dict, planned: int) -> str:
    """Markdown of the record: a state line, then per bit width Table 4, Table 5 and the claims, then
    the slices. ``planned`` is the number of slices the record is to hold (its overlays)."""
    t4, t5, claims, slices = (tables[n] for n in TABLES)
    seeds = slices.groupby("bits")["seed"].apply(lambda s: ", ".join(str(int(x)) for x in sorted(s)))
    parts = [f"State: {len(slices)} of {planned} planned slices committed ("
             + "; ".join(f"{_count(b, 'bit')}: seeds {s}" for b, s in seeds.items()) + ").\n"]
    for bits in sorted(slices["bits"].unique()):
        n = len(slices[slices["bits"] == bits])
        parts.append(f"**{_count(bits, 'bit')}, {_count(n, 'seed')}** (mean ± sd over seeds). "
                     f"Table 4 (the paper's Ē is compared as Ē_m):\n")
        parts.append(to_markdown(t4[t4["bits"] == bits], display.TABLE4))
        parts.append("Table 5 (train: all 60 000 training images after the last epoch; our train loss is the "
                     "cross-entropy alone, the paper's includes Keras' l2 penalty c·Σw², see "
                     "docs/reproduction/mnist/README.md):\n")
        parts.append(to_markdown(t5[t5["bits"] == bits], display.TABLE5))
        c = claims[claims["bits"] == bits]
        if not c.empty:
            parts.append("Claims over seeds:\n")
            shown = display.claims_table(c, t4[t4["bits"] == bits], RECORD_FACTS)
            parts.append(to_markdown(shown, [col for col in display.CLAIMS if col.source != "rule"]))
    parts.append("Rules: " + "; ".join(f"claim {c}: {r}" for c, r in
                                        claims.drop_duplicates("claim")[["claim", "rule"]].itertuples(index=False))
                 + ".\n")
    shown = slices.assign(commit_short=slices["commit"].str[:7], wall_min=slices["wall_s"] / 60,
                          job_min=slices["job_wall_s_sum"] / 60)
    parts.append("Slices (wall time of the slice; job time summed over its jobs):\n")
    parts.append(to_markdown(shown, SLICE_COLUMNS))
    return "\n".join(parts)


def write_summary(record_dir, readme=None) -> Path:
    """Write ``record_dir/tables/summary.md`` from the tables there and, when ``readme`` is given,
    put the same text between its markers (each file written whole or not at all); returns the
    summary's path. The planned slices are the overlays ``record_dir/slices/b<bits>-seed<k>.yaml``."""
    record_dir = Path(record_dir)
    planned = sum(1 for p in (record_dir / "slices").glob("*.yaml") if SLICE_NAME.match(p.stem))
    block = summary_markdown(read_tables(record_dir / "tables"), planned)
    if readme is not None:
        readme = Path(readme)
        updated = replace_block(readme.read_text(), block, str(readme))
        write_text(readme, updated)
    path = record_dir / "tables" / "summary.md"
    write_text(path, block)
    return path


def replace_block(text: str, block: str, where: str = "the file") -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``block``; a text
    without exactly one pair of markers, in order, raises ValueError naming ``where``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise ValueError(f"{where}: needs exactly one line {BEGIN!r} followed by one line {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block.rstrip()}\n{END}{tail}"


def block_of(text: str) -> str:
    """The text between the markers (as :func:`replace_block` writes it, without its newlines)."""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")
