"""The PDF/SVG/PNG files of `stelab figures` (atomic, reproducible, valid), the command's errors, and the
figures' captions for `snakemake --report`."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import docutils.core
import jinja2
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from figure_inputs import FIGURES, constants_curves, plateau_table, qat_scatter, qat_tracking, theory_curves
from helpers import REPO

from stelab.cli import main
from stelab.commands.figures import CONSTANTS_FIGURES, QAT_FIGURES, THEORY_FIGURES, error_curves_figure
from stelab.report.theme import FIGURE_FORMATS, save_figure

matplotlib.use("Agg")


# ---- files ---------------------------------------------------------------------------------------------

def check_files(folder, name):
    pdf, svg, png = (folder / f"{name}.{fmt}" for fmt in ("pdf", "svg", "png"))
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000
    assert ET.parse(svg).getroot().tag == "{http://www.w3.org/2000/svg}svg"
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 1000


def test_save_figure_writes_three_valid_reproducible_files(tmp_path):
    fig = FIGURES["plateau"]()
    paths = save_figure(fig, tmp_path / "a", "plateau")
    assert [p.suffix[1:] for p in paths] == list(FIGURE_FORMATS) == ["pdf", "svg", "png"]
    check_files(tmp_path / "a", "plateau")
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["plateau.pdf", "plateau.png", "plateau.svg"]
    save_figure(fig, tmp_path / "b", "plateau")
    plt.close(fig)
    for fmt in FIGURE_FORMATS:
        assert (tmp_path / "a" / f"plateau.{fmt}").read_bytes() == (tmp_path / "b" / f"plateau.{fmt}").read_bytes()


def test_save_figure_leaves_no_file_when_drawing_fails(tmp_path):
    fig = plt.figure()
    fig.text(0.5, 0.5, r"$\undefinedmacro$")
    with pytest.raises(ValueError):
        save_figure(fig, tmp_path, "broken")
    plt.close(fig)
    assert list(tmp_path.iterdir()) == []


def test_constants_command_writes_both_figures(tmp_path):
    curves = tmp_path / "curves.tsv"
    constants_curves().to_csv(curves, sep="\t", index=False)
    assert main(["figures", "constants", "--curves", str(curves), "--out-dir", str(tmp_path / "out")]) == 0
    for name in CONSTANTS_FIGURES.values():
        check_files(tmp_path / "out", name)


def test_qat_command_writes_the_sweep_only_when_asked(tmp_path):
    scatter, tracking = tmp_path / "scatter.npz", tmp_path / "tracking.tsv"
    np.savez(scatter, **qat_scatter())
    qat_tracking(path_normalised=False).to_csv(tracking, sep="\t", index=False)
    base = ["figures", "qat", "--scatter", str(scatter), "--tracking", str(tracking), "--out-dir", str(tmp_path / "o")]
    assert main(base) == 0
    assert sorted(p.stem for p in (tmp_path / "o").glob("*.pdf")) == sorted([QAT_FIGURES["scatter"],
                                                                             QAT_FIGURES["tracking"]])
    assert main([*base, "--sweep", str(tmp_path / "sweep.csv")]) == 2  # --sweep without --sweep-fit


def test_theory_command_names_its_figures_and_the_missing_file(tmp_path, capsys):
    curves, plateau = tmp_path / "curves.tsv", tmp_path / "plateau.tsv"
    theory_curves().to_csv(curves, sep="\t", index=False)
    plateau_table().to_csv(plateau, sep="\t", index=False)
    out = tmp_path / "o"
    assert main(["figures", "theory", "--curves", f"curves={curves}", "--plateau", str(plateau),
                 "--out-dir", str(out)]) == 0
    for name in (error_curves_figure("curves"), THEORY_FIGURES["plateau"]):
        check_files(out, name)
    assert main(["figures", "theory", "--stability", str(tmp_path / "nowhere.tsv"), "--out-dir", str(out)]) == 2
    assert "nowhere.tsv" in capsys.readouterr().err
    assert main(["figures", "theory", "--out-dir", str(out)]) == 2


def test_a_bad_table_is_an_error_naming_figure_and_file(tmp_path, capsys):
    tracking = tmp_path / "tracking.tsv"
    qat_tracking(path_normalised=False).drop(columns="E_bar").to_csv(tracking, sep="\t", index=False)
    scatter = tmp_path / "scatter.npz"
    np.savez(scatter, **qat_scatter())
    assert main(["figures", "qat", "--scatter", str(scatter), "--tracking", str(tracking),
                 "--out-dir", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "E_bar_over_training" in err and str(tracking) in err


# ---- captions for `snakemake --report` ---------------------------------------------------------------

CAPTION_NAMES = sorted({*CONSTANTS_FIGURES.values(), *QAT_FIGURES.values(), *THEORY_FIGURES.values(), "error_curves"})


@pytest.mark.parametrize("name", CAPTION_NAMES)
def test_every_figure_has_a_valid_caption(name):
    """Rendered as `snakemake --report` does (Jinja, then docutils), the caption reports no problem."""
    text = jinja2.Template((REPO / "workflow" / "report" / f"figure_{name}.rst").read_text()).render()
    problems = io.StringIO()
    docutils.core.publish_string(text, writer="html", settings_overrides={
        "report_level": 2, "halt_level": 5, "warning_stream": problems})
    assert problems.getvalue() == ""
    assert len(text.split()) >= 30
