"""One look for every figure of the workflow, and saving a figure in the formats a paper includes.

The theme is seaborn's ``ticks`` style in the ``paper`` context (font scale :data:`FONT_SCALE`, light
grid) with seaborn's colour-blind-safe ``colorblind`` palette as the colour cycle, so ``"C0"``,
``"C1"``, … and :func:`color` name palette colours. Every plot function of the tracks is wrapped in
:func:`themed`; the notebooks call :func:`apply_theme` once so their inline figures look the same.
Axis labels carry their unit in parentheses, e.g. ``"Ē (% of range)"``; quantities measured in
units of a scale (the range half-width m) say so, dimensionless ones say ``dimensionless``.

:func:`save_figure` writes ``<out_dir>/<name>.{pdf,svg,png}`` atomically (temporary file + rename,
:func:`stelab.io.atomic_path`) with fonts embedded as TrueType and no timestamps, so the same figure
gives the same PDF and SVG bytes.

matplotlib and seaborn are imported inside the functions: the rule files import this module's
constants at parse time.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from ..io import atomic_path

#: the formats every figure is written in: vector for the paper (PDF, SVG), raster for the web (PNG)
FIGURE_FORMATS = ("pdf", "svg", "png")
#: resolution of the PNG files
PNG_DPI = 200
#: seaborn palette of the theme: colour-blind-safe (Okabe–Ito-like), ten colours
PALETTE_NAME = "colorblind"
#: seaborn plotting-context scale: 1.3 × the ``paper`` sizes gives about 10 pt tick labels
FONT_SCALE = 1.3
#: neutral colours beside the palette: reference lines, simulation bands, the forward quantizer
NEUTRALS = {"reference": "0.55", "band": "0.82", "data": "0.25", "black": "k"}


@functools.lru_cache(maxsize=1)
def palette() -> tuple[str, ...]:
    """The theme's palette as hex strings (seaborn's ``colorblind``)."""
    import seaborn as sns

    return tuple(sns.color_palette(PALETTE_NAME).as_hex())


def color(i: int) -> str:
    """The ``i``-th colour of the palette (cycling)."""
    p = palette()
    return p[i % len(p)]


def theme_rc() -> dict:
    """matplotlib rcParams of the theme: seaborn style + context + palette, and saving settings."""
    import seaborn as sns
    from cycler import cycler

    rc = {**sns.axes_style("ticks"), **sns.plotting_context("paper", font_scale=FONT_SCALE)}
    rc.update({
        "axes.prop_cycle": cycler(color=list(palette())),
        "axes.grid": True,
        "grid.color": "0.9",
        "grid.linewidth": 0.6,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "legend.frameon": False,
        "legend.fontsize": 8.5,
        "figure.dpi": 100,
        "savefig.dpi": PNG_DPI,
        "savefig.bbox": "tight",
        "savefig.pad_inches": 0.03,
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "svg.fonttype": "path",
        "svg.hashsalt": "stelab",
        "mathtext.fontset": "dejavusans",
    })
    return rc


def apply_theme() -> None:
    """Set the theme globally (the notebooks call this once, before their first figure)."""
    import matplotlib as mpl

    mpl.rcParams.update(theme_rc())


def themed(plot):
    """Decorator: draw ``plot`` under the theme without changing the caller's rcParams."""

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        import matplotlib as mpl

        with mpl.rc_context(theme_rc()):
            figure = plot(*args, **kwargs)
            interactive = mpl.is_interactive()
        # the first figure may load the backend, and Jupyter's inline backend then switches interactive
        # mode on; rc_context would switch it off again and the notebook would show no later figure
        mpl.interactive(interactive)
        return figure

    return wrapper


def tick_label(value: float) -> str:
    """A tick label without exponent text: 0.25, 4, 1000; powers of ten outside [10⁻³, 10⁴) as 10ⁿ (mathtext)."""
    import math

    if value <= 0 or 1e-3 <= value < 1e4:
        return f"{value:g}"
    exponent = math.log10(value)
    if abs(exponent - round(exponent)) < 1e-9:
        return rf"$10^{{{int(round(exponent))}}}$"
    mantissa, exp = f"{value:.1e}".split("e")
    return rf"${float(mantissa):g}\times10^{{{int(exp)}}}$"


def log_axis(ax, which: str = "x", values=None) -> None:
    """Logarithmic ``which`` axis ("x", "y" or "xy") with plain tick labels (:func:`tick_label`); call it
    after the data are drawn. ``values`` (for a one-letter ``which``): put the major ticks at these data
    values (e.g. the learning-rate factors 0.25 … 4), so every point has its label; otherwise ticks at
    1, 10, … or, over less than two decades, 1, 2, 5, 10, …"""
    import math

    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    for name in which:
        getattr(ax, f"set_{name}scale")("log")
        low, high = sorted(getattr(ax, f"get_{name}lim")())
        axis = getattr(ax, f"{name}axis")
        if values is not None:
            axis.set_major_locator(FixedLocator(sorted({float(v) for v in values if v > 0})))
        else:
            axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if math.log10(high / low) < 2 else (1.0,)))
        axis.set_major_formatter(FuncFormatter(lambda value, _: tick_label(value)))
        axis.set_minor_formatter(NullFormatter())


def figure_paths(out_dir, name: str) -> list[Path]:
    """``out_dir/name.<format>`` for every format of :data:`FIGURE_FORMATS`."""
    return [Path(out_dir) / f"{name}.{fmt}" for fmt in FIGURE_FORMATS]


def save_figure(fig, out_dir, name: str) -> list[Path]:
    """Write ``fig`` as ``out_dir/name.{pdf,svg,png}``, each atomically; returns the paths.

    No creation dates are stored (PDF ``CreationDate``, SVG ``Date``), so the vector files depend
    only on the figure.
    """
    import matplotlib as mpl

    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}, "png": {}}
    paths = figure_paths(out_dir, name)
    font_log = logging.getLogger("fontTools")  # DejaVu's font-header dates trip a warning while embedding
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with mpl.rc_context(theme_rc()):
            for path in paths:
                fmt = path.suffix[1:]
                with atomic_path(path) as tmp:
                    fig.savefig(tmp, format=fmt, metadata=metadata[fmt])
    finally:
        font_log.setLevel(level)
    return paths
