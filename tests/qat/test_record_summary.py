"""The record's Markdown summary and README block (``stelab record-tables --readme``).

Expected texts are written out by hand from the fake slices' numbers, never by the code under test;
the README check compares README.md's block with the rendering of the committed record tables.
"""

from pathlib import Path

import pandas as pd
import pytest

from stelab.cli import main
from stelab.qat.record_summary import BEGIN, END, block_of, read_tables, replace_block, summary_markdown
from stelab.report.tables import Col, to_markdown

from helpers import record_slice as _slice

REPO = Path(__file__).resolve().parents[2]
RECORD = REPO / "docs" / "reproduction" / "mnist" / "record"


def test_markdown_table_escapes_pipes_and_formats_cells():
    df = pd.DataFrame({"name": ["a|b"], "m": [0.51234], "s": [0.0123]})
    text = to_markdown(df, [Col("Name |x|", "name", "text"), Col("Value", ("m", "s"), "pm", decimals=2)])
    assert text == "| Name \\|x\\| | Value |\n|---|---|\n| a\\|b | 0.51 ± 0.01 |\n"


def test_replace_block_keeps_the_rest_and_refuses_missing_markers():
    text = f"head\n{BEGIN}\nold\n{END}\ntail\n"
    assert replace_block(text, "new\n") == f"head\n{BEGIN}\nnew\n{END}\ntail\n"
    assert block_of(replace_block(text, "new")) == "new"
    for bad in ("no markers", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n"):
        with pytest.raises(ValueError, match="README.md: needs exactly one line"):
            replace_block(bad, "x", "README.md")


def test_record_tables_writes_the_summary_into_a_readme(tmp_path):
    record = tmp_path / "record"
    for seed, base in ((0, 0.2), (1, 0.4)):
        _slice(record, 2, seed, {"baseline": base, "lrtweak": base, "unadjusted": 5 * base})
    _slice(record, 1, 0, {"baseline": 0.2, "lrtweak": 0.2, "unadjusted": 1.0})
    (record / "slices").mkdir()
    for name in ("b2-seed0", "b2-seed1", "b2-seed2", "b1-seed0", "_slice"):  # 4 planned; _slice is no slice
        (record / "slices" / f"{name}.yaml").write_text("qat: {}\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{BEGIN}\nstale\n{END}\n\nafter\n")
    assert main(["record-tables", "--record", str(record), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# title\n\n") and text.endswith(f"{END}\n\nafter\n") and "stale" not in text
    block = block_of(text)
    assert block == (record / "tables" / "summary.md").read_text().strip("\n")
    assert block.startswith("State: 3 of 4 planned slices committed (1 bit: seeds 0; 2 bits: seeds 0, 1).")
    assert "**1 bit, 1 seed** (mean" in block and "**2 bits, 2 seeds** (mean" in block
    # baseline (S): E_bar 0.2 and 0.4 → 0.3 ± 0.141; E_bar_m 0.6 ± 0.283; 0.6 / 0.515 = 1.17
    assert "| baseline (S), 2 bit | 0.300 ± 0.141 | 0.600 ± 0.283 | 3.00 ± 1.41 | 0.515 | 1.17 | 98.00 ± 0.00 | 98.31 | 2 |" in block
    # claim B: Ē(unadjusted)/Ē(baseline) = 5 in both seeds, a zero-width interval, above 2: holds
    assert "| SGD + momentum (S) | 2 | B | 5.00 | [5.00, 5.00] | 2 | 4.89 | holds |" in block
    assert "| b2-seed1 | ccccccc | 2 | 2 | 2 |" in block  # 100 s wall, 90.5 s of jobs, 2 jobs


def test_readme_block_is_the_committed_record():
    readme = (REPO / "README.md").read_text()
    planned = sum(1 for p in (RECORD / "slices").glob("b*-seed*.yaml"))
    expected = summary_markdown(read_tables(RECORD / "tables"), planned).strip("\n")
    assert block_of(readme) == expected, "README's record block is stale: run `stelab record-tables --readme README.md`"


@pytest.mark.parametrize("value, text", [(-0.001, "0.00"), (-0.0, "0.00"), (-0.006, "−0.01"), (-1.5, "−1.50"),
                                         (0.004, "0.00")])
def test_a_number_that_rounds_to_zero_has_no_minus(value, text):
    assert to_markdown(pd.DataFrame({"v": [value]}), [Col("V", "v", "fixed", 2)]).splitlines()[2] == f"| {text} |"
