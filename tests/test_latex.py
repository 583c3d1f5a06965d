"""LaTeX tables: escaping, math for the papers' symbols, booktabs layout, and every `.tex` the workflow
writes compiling with pdflatex (from tables generated here from small hand-made comparison rows)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pandas as pd
import pytest

from stelab.cli import main
from stelab.report.latex import column_format, latex_escape, latex_tabular, write_latex_table

PDFLATEX = shutil.which("pdflatex")
DOCUMENT = r"""\documentclass{article}
\usepackage{booktabs}
\begin{document}
\begin{table}
\input{%s}
\end{table}
\end{document}
"""


@pytest.mark.parametrize(("text", "latex"), [
    ("Ē (%)", r"$\bar{E}$ (\%)"),
    ("η factor", r"$\eta$ factor"),
    ("Q̂ vs. Q̂ with 1% learning rate increase", r"$\hat{Q}$ vs. $\hat{Q}$ with 1\% learning rate increase"),
    ("× baseline", r"$\times$ baseline"),
    ("L′L+/(2L−²)", r"$L'L_+$/(2$L_-^2$)"),
    ("α = 0.61 ± 0.02", r"$\alpha$ = 0.61 $\pm$ 0.02"),
    ("Q̂'Q̂", r"$\hat{Q}'\hat{Q}$"),
    ("η₀", r"$\eta_0$"),
    ("a_b & c#d $e ~f ^g {h} \\i", r"a\_b \& c\#d \$e \textasciitilde{}f \textasciicircum{}g \{h\} \textbackslash{}i"),
    ("–", "--"),
    ("ALL+", "ALL+"),
])
def test_escape(text, latex):
    assert latex_escape(text) == latex


def test_adjacent_symbols_never_open_display_math():
    assert "$$" not in latex_escape("ηαĒ±×Q̂′")


def test_a_character_without_latex_form_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"Table 9, row 1: '☃' \(U\+2603\)"):
        latex_escape("snow ☃", "Table 9, row 1")


def test_column_formats():
    assert column_format(["1.000 ± 0.100", "–", "-0.06", "2"]) == "r"
    assert column_format(["baseline", "lrtweak"]) == "l"
    assert column_format(["short", "x" * 41]) == "p{5cm}"


def test_tabular_has_booktabs_rules_math_numbers_and_stripped_headers():
    df = pd.DataFrame({"Experiment": ["Q̂ (S)", "Diff (S)"], "Ē (%)": ["0.600 ± 0.141", "-0.05 ± 0.07"],
                       "paper ": [0.515, float("nan")]})
    lines = latex_tabular(df).splitlines()
    assert lines == [
        r"\begin{tabular}{lrr}", r"\toprule", r"Experiment & $\bar{E}$ (\%) & paper \\", r"\midrule",
        r"$\hat{Q}$ (S) & $0.600 \pm 0.141$ & $0.515$ \\", r"Diff (S) & $-0.05 \pm 0.07$ & -- \\",
        r"\bottomrule", r"\end{tabular}"]


def test_write_latex_table_names_the_file_in_errors(tmp_path):
    path = tmp_path / "t.tex"
    with pytest.raises(ValueError, match=rf"{path}, row 1, column 'a'"):
        write_latex_table(path, pd.DataFrame({"a": ["☃"]}))
    assert not path.exists()


# ---- every .tex the workflow writes compiles ---------------------------------------------------------

def comparison_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    """pairs.tsv and runs.tsv as `stelab compare` writes them (both Ē normalisations, no run diverged): two
    optimizers, two seeds, an lr sweep."""
    pairs, runs = [], []
    for seed in (0, 1):
        for optimizer, pair_names in (("momentum", ("baseline", "lrtweak", "unadjusted")),
                                      ("adam", ("baseline", "lrtweak"))):
            for k, pair in enumerate(pair_names):
                pairs.append({"bits": 2, "optimizer": optimizer, "sweep_factor": 1.0, "seed": seed, "pair": pair,
                              "diverged": False, "E_bar": 0.5 + k + 0.1 * seed, "E_bar_path": 3.0 + k,
                              "agreement": 98.0 - k, "diff_train_acc": -0.05 * seed, "diff_train_loss": 0.004,
                              "diff_val_acc": 0.06, "diff_val_loss": -0.001})
            for variant in ("qhat", "ste", "lrtweak", "unadjusted"):
                runs.append({"bits": 2, "optimizer": optimizer, "sweep_factor": 1.0, "seed": seed, "variant": variant,
                             "diverged": False, "train_acc": 97.0 + 0.1 * seed, "train_loss": 0.14, "val_acc": 97.1,
                             "val_loss": 0.145})
        for factor in (0.5, 2.0):
            pairs.append({"bits": 2, "optimizer": "momentum", "sweep_factor": factor, "seed": seed,
                          "pair": "baseline", "diverged": False, "E_bar": 0.5 * factor**2,
                          "E_bar_path": 3.0 * factor, "agreement": 99.0, "diff_train_acc": 0.0,
                          "diff_train_loss": 0.0, "diff_val_acc": 0.0, "diff_val_loss": 0.0})
    return pd.DataFrame(pairs), pd.DataFrame(runs)


@pytest.fixture(scope="module")
def workflow_tex(tmp_path_factory):
    """The .tex files of `stelab qat-tables` (the only .tex the workflow writes) and a table of every hazard."""
    folder = tmp_path_factory.mktemp("tables")
    pairs, runs = comparison_rows()
    pairs.to_csv(folder / "pairs.tsv", sep="\t", index=False)
    runs.to_csv(folder / "runs.tsv", sep="\t", index=False)
    assert main(["qat-tables", "--pairs", str(folder / "pairs.tsv"), "--runs", str(folder / "runs.tsv"),
                 "--out-dir", str(folder)]) == 0
    hazards = pd.DataFrame({"Ē (%) & 100% _x_ #1": ["50% of range", "a & b", "Q̂' ≥ L−"],
                            "η × α ± σ": ["1 ± 2", "–", "-inf"]})
    write_latex_table(folder / "hazards.tex", hazards)
    return sorted(folder.glob("*.tex"))


def test_the_workflow_writes_the_four_qat_tables(workflow_tex):
    assert [p.stem for p in workflow_tex] == ["hazards", "qat_lr_sweep", "qat_table3", "qat_table4", "qat_table5"]
    table4 = next(p for p in workflow_tex if p.stem == "qat_table4").read_text()
    assert r"$\bar{E}$ paper (\%)" in table4 and "$0.515$" in table4 and "Ē" not in table4


@pytest.fixture(scope="module")
def pdflatex():
    if PDFLATEX is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install pdflatex and booktabs (texlive-latex-base, texlive-latex-recommended; "
                        "see .ci/run)")
        pytest.skip("pdflatex not installed: apt-get install texlive-latex-base texlive-latex-recommended")
    return PDFLATEX


def test_every_table_compiles_with_pdflatex(workflow_tex, pdflatex, tmp_path):
    for tex in workflow_tex:
        doc = tmp_path / f"{tex.stem}_doc.tex"
        doc.write_text(DOCUMENT % tex.as_posix())
        proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)
        log = (tmp_path / f"{tex.stem}_doc.log").read_text(errors="replace")
        assert proc.returncode == 0, f"{tex.name}:\n{proc.stdout[-3000:]}"
        assert "Missing character" not in log and "Undefined control sequence" not in log, tex.name
        assert (tmp_path / f"{tex.stem}_doc.pdf").read_bytes().startswith(b"%PDF")


def test_raw_unicode_as_pandas_wrote_it_does_not_compile(pdflatex, tmp_path):
    """The check above can fail: pandas' to_latex (the former writer) leaves η raw, which stops pdflatex."""
    raw = tmp_path / "raw.tex"
    raw.write_text(pd.DataFrame({"η factor": [0.5], "Ē (%)": ["0.1 ± 0.0"]}).to_latex(index=False))
    (tmp_path / "doc.tex").write_text(DOCUMENT % raw.as_posix())
    proc = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode != 0
