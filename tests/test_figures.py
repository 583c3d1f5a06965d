"""Report figures from small hand-made inputs: labelled axes with units, the theme's palette and fonts,
and the PDF/SVG/PNG files of `stelab figures` (atomic, reproducible, valid)."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import docutils.core
import jinja2
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from helpers import REPO
from matplotlib.colors import to_hex, to_rgba

from stelab.cli import main
from stelab.commands.figures import CONSTANTS_FIGURES, QAT_FIGURES, THEORY_FIGURES, error_curves_figure
from stelab.constants.plots import plot_estimators, plot_weight_maps
from stelab.report.theme import FIGURE_FORMATS, NEUTRALS, palette, save_figure, theme_rc
from stelab.qat.plots import plot_lr_sweep, plot_tracking, plot_weight_scatter
from stelab.theory.plots import (
    plot_bridge,
    plot_densities,
    plot_error_curves,
    plot_fixed_points,
    plot_plateau,
    plot_stability,
)

matplotlib.use("Agg")


# ---- hand-made inputs --------------------------------------------------------------------------------

def constants_curves() -> pd.DataFrame:
    w = np.linspace(-1.5, 1.5, 61)
    q = np.clip(np.round(w * 1.5) / 1.5, -1, 1)
    rows = []
    for label, bits, qhat, dq, m, alpha in (
            ("ste", 2, w, np.ones_like(w), w, 1.0),
            ("smooth", 2, np.tanh(w), 1 - np.tanh(w) ** 2, 0.9 * w, 0.8),
            ("no_closed_form", 1, np.full_like(w, np.nan), np.exp(-w**2), np.full_like(w, np.nan), np.nan)):
        rows.append(pd.DataFrame({"label": label, "estimator": label, "bits": bits, "w": w, "Q": q, "Qhat": qhat,
                                  "dQhat": dq, "M": m, "alpha": alpha}))
    return pd.concat(rows, ignore_index=True)


def qat_scatter() -> dict:
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 50)
    return {"momentum_adjusted_x": x, "momentum_adjusted_y": x + 0.01, "momentum_unadjusted_x": x,
            "momentum_unadjusted_y": -x, "adam_adjusted_x": x, "adam_adjusted_y": 0.5 * x,
            "thresholds": np.array([-2 / 3, 0.0, 2 / 3])}


def qat_tracking(path_normalised: bool) -> pd.DataFrame:
    rows = []
    for optimizer in ("momentum", "adam"):
        for pair in ("baseline", "lrtweak"):
            for seed in (0, 1):
                for step in (0, 4, 8):
                    row = {"bits": 2, "optimizer": optimizer, "sweep_factor": 1.0, "seed": seed, "pair": pair,
                           "step": step, "E_bar": 0.1 * step + seed, "agreement": 100 - step, "n_weights": 10}
                    if path_normalised:
                        row["E_bar_path"] = 0.5 * step
                    rows.append(row)
    return pd.DataFrame(rows)


def qat_sweep(path_normalised: bool) -> tuple[pd.DataFrame, dict]:
    f = np.array([0.5, 1.0, 2.0])
    sweep = pd.DataFrame({"bits": 2, "optimizer": "momentum", "sweep_factor": f, "E_bar_mean": 0.2 * f**2,
                          "E_bar_sd": 0.01, "agreement_mean": 99.0, "agreement_sd": 0.1, "n_seeds": 2})
    if path_normalised:
        sweep["E_bar_path_mean"], sweep["E_bar_path_sd"] = 3 * f, 0.2
    return sweep, {"momentum": {"slope": 2.0, "intercept": np.log10(0.2), "n_factors": 3, "bits": 2}}


def theory_curves(experiment="curves", cases=("b2_w1", "b2_w2")) -> pd.DataFrame:
    tau = np.array([0.0, 0.1, 1.0, 10.0])
    rows = []
    for case in cases:
        for source, shift in (("sim_mean", 0.0), ("sim_lo", -0.05), ("sim_hi", 0.05), ("pde", 0.01),
                              ("closure", 0.02), ("particles", 0.0)):
            rows.append(pd.DataFrame({"experiment": experiment, "case": case, "source": source, "tau": tau,
                                      "t": 0.1 * tau, "eps": 1.0 / (1 + tau) + shift}))
    return pd.concat(rows, ignore_index=True)


def density_inputs() -> tuple[dict, dict]:
    rng = np.random.default_rng(1)
    faces = np.linspace(-4, 4, 81)
    x = 0.5 * (faces[1:] + faces[:-1])
    bump = np.exp(-x**2 / 2) / np.sqrt(2 * np.pi)
    sim = {"snapshot_taus": np.array([1.0, 2.0]), "snapshot_0": rng.normal(0, 1, (1, 200)),
           "snapshot_1": rng.normal(0.5, 1, (1, 200)), "w_star": np.ones((1, 200)), "d": np.array(200)}
    theory = {"pde_faces": faces, "pde_teacher_values": np.array([1.0]), "pde_snapshot_taus": np.array([1.0, 2.0]),
              "pde_snapshot_0": bump[None], "pde_snapshot_1": bump[None], "pde_stationary": bump[None],
              "particles_snapshot_taus": np.array([1.0, 2.0]), "particles_snapshot_0": rng.normal(0, 1, 300),
              "particles_snapshot_1": rng.normal(0, 1, 300)}
    return sim, theory


def plateau_table() -> pd.DataFrame:
    return pd.DataFrame({"case": ["w1", "w2"], "omega": [1.0, 2.0], "p_target": [0.8, 0.3],
                         "tau_p_formula": [5.0, 9.0], "tau_p_sim": [5.2, 8.7], "tau_p_pde": [5.1, 8.9]})


def fixed_point_table() -> pd.DataFrame:
    return pd.DataFrame({"sweep": ["bits_omega"] * 4 + ["eta"] * 2, "bits": [1, 1, 2, 2, 2, 2],
                         "omega": [1.0, 2.0, 1.0, 2.0, 2.0, 2.0], "eta": [0.1, 0.1, 0.1, 0.1, 0.1, 0.5],
                         "eps_star": [0.7, 15.0, 0.2, 0.4, 0.4, 0.5], "small_noise": [0.7, 15.0, 0.2, 0.4, 0.4, 0.5],
                         "eps_star_0": [0.005] * 4 + [0.005, 0.03], "deviation": [0.69, 14.9, 0.19, 0.39, 0.39, 0.47]})


def stability_table() -> pd.DataFrame:
    return pd.DataFrame({"eta": [0.5, 0.5, 2.5, 2.5], "model": ["quantized", "unquantized"] * 2,
                         "sim_eps_mean": [0.6, 0.3, 0.9, 1e6], "theory": ["pde", "linear_ode"] * 2,
                         "theory_eps": [0.55, 0.25, 0.95, 1e7]})


def bridge_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    t = np.linspace(0, 1, 5)
    curves = pd.concat([pd.DataFrame({"experiment": "bridge", "case": f"{net}_eta{eta:g}", "source": source,
                                      "tau": t / eta, "t": t, "eps": 2 - t + (0.01 if net == "ste" else 0)})
                        for net in ("qhat", "ste") for eta in (0.2, 0.1) for source in ("sim_mean", "pde")])
    table = pd.DataFrame({"eta": [0.2, 0.1], "sim_max_gap": [0.18, 0.1], "pde_max_gap": [0.04, 0.03],
                          "pde_final_ks": [0.09, 0.07]})
    return curves, table


FIGURES = {
    "fig1_estimators": lambda: plot_estimators(constants_curves()),
    "weight_maps": lambda: plot_weight_maps(constants_curves()),
    "fig3_weight_scatter": lambda: plot_weight_scatter(qat_scatter()),
    "E_bar_over_training": lambda: plot_tracking(qat_tracking(path_normalised=True)),
    "lr_sweep": lambda: plot_lr_sweep(*qat_sweep(path_normalised=True)),
    "error_curves": lambda: plot_error_curves(theory_curves()),
    "densities": lambda: plot_densities(*density_inputs()),
    "plateau": lambda: plot_plateau(plateau_table()),
    "fixed_points": lambda: plot_fixed_points(fixed_point_table()),
    "stability": lambda: plot_stability(stability_table()),
    "bridge": lambda: plot_bridge(*bridge_inputs()),
}


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
