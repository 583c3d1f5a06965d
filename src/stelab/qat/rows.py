"""The row tables of the QAT track (``stelab compare`` writes them; record slices and search points keep
them), read back with their columns checked.

A file that is not such a table (another TSV, a truncated one) is refused naming the file and the
missing columns, before any table or figure is built from it. Columns added later (``E_bar_m``,
``E_bar_path``, ``n_weights``) are optional: rows written before them still read.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .metrics import FINAL_METRICS

#: the columns that identify a training run's group: one pair per (bits, optimizer, lr factor, seed)
KEY = ("bits", "optimizer", "sweep_factor", "seed")
#: the columns every reader needs, per table (``stelab compare`` --runs-out, --pairs-out, --tracking-out;
#: a record slice's scatter.tsv)
COLUMNS = {
    "runs": (*KEY, "variant", "diverged", *FINAL_METRICS),
    "pairs": (*KEY, "pair", "diverged", "E_bar", "agreement", *(f"diff_{m}" for m in FINAL_METRICS)),
    "tracking": (*KEY, "pair", "step", "E_bar", "agreement"),
    "scatter": ("optimizer", "pair", "x", "y"),
}


def read_rows(path, table: str, owner: str = "", columns=None) -> pd.DataFrame:
    """The ``table`` rows (``runs``, ``pairs``, ``tracking``, ``scatter``) of the TSV ``path``.

    FileNotFoundError naming a missing file; ValueError naming the file and the missing ones of
    ``columns`` (default: :data:`COLUMNS` of the table; a reader that needs fewer names its own), or
    the file when it cannot be parsed as TSV. ``owner`` (e.g. ``record slice b2-seed0``) leads
    every message.
    """
    path = Path(path)
    lead = f"{owner}: " if owner else ""
    if not path.is_file():
        raise FileNotFoundError(f"{lead}{path} does not exist (the {table} table of `stelab compare`)")
    try:
        df = pd.read_csv(path, sep="\t")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"{lead}{path}: not a {table} table of `stelab compare` ({exc})") from None
    missing = [c for c in (COLUMNS[table] if columns is None else columns) if c not in df.columns]
    if missing:
        raise ValueError(f"{lead}{path}: not a {table} table of `stelab compare`: missing column(s) "
                         f"{', '.join(missing)}")
    return df
