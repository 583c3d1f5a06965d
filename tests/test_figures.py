"""Report figures from small hand-made inputs (tests/figure_inputs.py): labelled axes with units, the
theme's palette and fonts, legends and annotations."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from figure_inputs import (
    FIGURES,
    bridge_inputs,
    constants_curves,
    plateau_table,
    qat_scatter,
    qat_sweep,
    qat_tracking,
    stability_table,
    theory_curves,
)
from matplotlib.colors import to_hex, to_rgba

from stelab.constants.plots import plot_estimators
from stelab.qat.plots import plot_lr_sweep, plot_tracking, plot_weight_scatter
from stelab.report.theme import NEUTRALS, palette, theme_rc
from stelab.theory.plots import plot_bridge, plot_error_curves, plot_plateau, plot_stability

matplotlib.use("Agg")


# ---- what a figure shows -----------------------------------------------------------------------------

def visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def data_colours(fig) -> set[str]:
    """Hex colours (alpha dropped) of every line, collection and patch drawn on the axes."""
    colours = []
    for ax in visible_axes(fig):
        colours += [line.get_color() for line in ax.lines]
        for coll in ax.collections:
            colours += [c for c in np.concatenate([coll.get_facecolors(), coll.get_edgecolors()]) if c[3] > 0]
        for patch in ax.patches:
            colours += [c for c in (patch.get_facecolor(), patch.get_edgecolor()) if to_rgba(c)[3] > 0]
    return {to_hex(c, keep_alpha=False) for c in colours}


@pytest.fixture(params=sorted(FIGURES))
def figure(request):
    fig = FIGURES[request.param]()
    yield request.param, fig
    plt.close(fig)


def test_every_axis_is_labelled_with_a_unit(figure):
    """x and y labels end with their unit in parentheses; a twin y axis (Q̂' in Fig. 1) may leave x to its twin."""
    name, fig = figure
    for ax in visible_axes(fig):
        labels = [ax.get_ylabel()]
        twins = [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax and a.bbox.bounds == ax.bbox.bounds]
        labels += [ax.get_xlabel()] if ax.get_xlabel() or not twins else [twins[0].get_xlabel()]
        for label in labels:
            assert label, f"{name}: axes {ax.get_title()!r} has an empty label"
            assert "(" in label and label.endswith(")"), f"{name}: label {label!r} gives no unit"


def test_colours_come_from_the_theme(figure):
    name, fig = figure
    allowed = set(palette()) | {to_hex(c) for c in NEUTRALS.values()} | {"#ffffff"}  # white: histogram bar edges
    colours = data_colours(fig)
    assert colours - allowed == set(), f"{name}: colours outside the palette"
    assert colours & set(palette()), f"{name}: no palette colour used"


def test_fonts_follow_the_theme(figure):
    name, fig = figure
    size = theme_rc()["axes.labelsize"]
    assert size != pytest.approx(matplotlib.rcParamsDefault["font.size"])  # so the check below tells them apart
    for ax in visible_axes(fig):
        if ax.get_xlabel():
            assert ax.xaxis.label.get_fontsize() == pytest.approx(size), name


def test_the_theme_palette_is_colour_blind_safe_and_leaves_global_settings_alone():
    assert palette()[:4] == ("#0173b2", "#de8f05", "#029e73", "#d55e00")  # seaborn "colorblind"
    before = dict(matplotlib.rcParams)
    plt.close(FIGURES["plateau"]())
    assert dict(matplotlib.rcParams) == before


def test_a_notebook_shows_every_figure(tmp_path):
    """In Jupyter's inline backend each cell's figure is displayed, not only the first one."""
    import nbformat
    from nbclient import NotebookClient

    plateau_table().to_csv(tmp_path / "plateau.tsv", sep="\t", index=False)
    cells = ["import pandas as pd\nfrom stelab.report.theme import apply_theme\nfrom stelab.theory.plots import plot_plateau"
             "\napply_theme()\nt = pd.read_csv('plateau.tsv', sep='\\t')"] + ["fig = plot_plateau(t)"] * 3
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [sum("image/png" in out.get("data", {}) for out in cell.outputs) for cell in nb.cells]
    assert shown == [0, 1, 1, 1]


def test_tracking_draws_each_e_bar_normalisation_present():
    both = plot_tracking(qat_tracking(path_normalised=True))
    one = plot_tracking(qat_tracking(path_normalised=False))

    def left(fig):
        return [ax.get_ylabel() for ax in fig.axes if ax.get_subplotspec().colspan.start == 0]

    assert left(both) == ["Ē = mean |Δw|/2m (%)", "Ē_m = mean |Δw|/m (%)", "Ē_path, % of path length (%)",
                          "quantized agreement (%)"]
    assert left(one) == ["Ē = mean |Δw|/2m (%)", "Ē_m = mean |Δw|/m (%)", "quantized agreement (%)"]
    unknown = plot_tracking(qat_tracking(path_normalised=False).assign(E_bar_path=np.nan))  # compared before it existed
    assert left(unknown) == left(one)
    for fig in (both, one, unknown):
        plt.close(fig)


def test_lr_sweep_labels_both_normalisations():
    fig = plot_lr_sweep(*qat_sweep(path_normalised=True))
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert {"SGD + momentum: Ē = mean |Δw|/2m", "SGD + momentum: Ē_m = mean |Δw|/m",
            "SGD + momentum: Ē_path (% of path)"} <= set(labels)
    assert "SGD + momentum: fitted slope 2.00" in labels
    plt.close(fig)
    fig = plot_lr_sweep(*qat_sweep(path_normalised=False))
    assert not any("path" in label for label in fig.axes[0].get_legend_handles_labels()[1])
    plt.close(fig)


def _tick_labels(axis) -> dict:
    """{tick value: label text} of the major ticks inside the axis' view."""
    low, high = sorted(axis.get_view_interval())
    ticks = axis.get_major_locator()()
    texts = [axis.get_major_formatter()(v, i) for i, v in enumerate(ticks)]
    return {round(float(v), 6): t for v, t in zip(ticks, texts) if low <= v <= high}


def test_log_axes_label_every_data_value_and_write_no_exponent_text():
    sweep, fits = qat_sweep(path_normalised=False)
    sweep = pd.concat([sweep, sweep.iloc[:1].assign(sweep_factor=0.25), sweep.iloc[:1].assign(sweep_factor=4.0)])
    fig = plot_lr_sweep(sweep, fits)
    assert {0.25: "0.25", 0.5: "0.5", 1.0: "1", 2.0: "2", 4.0: "4"}.items() <= _tick_labels(fig.axes[0].xaxis).items()
    plt.close(fig)
    curves, table = bridge_inputs()
    table = pd.concat([table, table.iloc[:1].assign(eta=0.4)])
    curves = pd.concat([curves, curves[curves["case"].str.endswith("0.2")].replace(
        {"case": {"qhat_eta0.2": "qhat_eta0.4", "ste_eta0.2": "ste_eta0.4"}})])
    fig = plot_bridge(curves, table)
    gap_axis = [ax for ax in fig.axes if ax.get_xscale() == "log"][0]
    assert _tick_labels(gap_axis.xaxis)[0.4] == "0.4"
    plt.close(fig)
    fig = plot_stability(stability_table())
    texts = list(_tick_labels(fig.axes[0].yaxis).values())
    assert not any("e+" in t or "e-" in t for t in texts), texts
    assert any("10^" in t for t in texts), texts
    plt.close(fig)


def test_legends_and_titles_use_names_not_code_ids():
    fig = plot_stability(stability_table())
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "unquantized: closed ODE" in labels and not any("linear_ode" in lab for lab in labels)
    assert any(lab.startswith("η = 2: unquantized stability edge") for lab in labels)
    plt.close(fig)
    fig = plot_error_curves(theory_curves(cases=("b2_w1.5", "weight_only")))
    assert [ax.get_title() for ax in fig.axes[:2]] == ["b = 2, ω = 1.5", "weight-only quantization"]
    plt.close(fig)
    fig = plot_weight_scatter(qat_scatter())
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "identity (equal weights)" in labels and "rounding thresholds" in labels
    plt.close(fig)


def test_the_bridge_draws_every_limit_curve_of_its_gap_table():
    curves, table = bridge_inputs()
    curves = pd.concat([curves, curves[curves["source"] == "pde"].assign(source="closure")])
    fig = plot_bridge(curves, table)
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(lab.endswith("Gaussian closure") for lab in labels) and any(lab.endswith("PDE") for lab in labels)
    plt.close(fig)


def test_plateau_annotations_sit_above_the_markers():
    fig = plot_plateau(plateau_table())
    fig.canvas.draw()
    ax = fig.axes[0]
    notes = [t for t in ax.texts if t.get_text() in ("drop", "rise")]
    assert len(notes) == 2
    top = max(y for line in ax.lines for y in line.get_ydata())
    for note in notes:
        assert note.get_position()[1] == 0.97  # axes fraction, above every data point
        assert ax.transData.inverted().transform(ax.transAxes.transform((0, 0.97)))[1] > top
    plt.close(fig)


def test_fig1_labels_each_axis_once_per_row_and_column():
    fig = plot_estimators(constants_curves())
    main = [ax for ax in fig.axes if ax.get_visible() and ax.get_ylabel().startswith("$Q(w)$")]
    assert sum(ax.yaxis.label.get_visible() for ax in main) == 1  # one row of three panels
    assert sum(ax.xaxis.label.get_visible() for ax in main) == 3
    assert fig.legends[0].get_texts()[0].get_fontsize() == 11
    plt.close(fig)


def test_empty_inputs_are_errors():
    with pytest.raises(ValueError, match="learning-rate sweep table is empty"):
        plot_lr_sweep(qat_sweep(path_normalised=False)[0].iloc[:0], {})
    with pytest.raises(ValueError, match="no column 'E_bar'"):
        plot_tracking(qat_tracking(path_normalised=False).drop(columns="E_bar"))
    with pytest.raises(ValueError, match="no scatter data"):
        plot_weight_scatter({"thresholds": np.zeros(1)})
