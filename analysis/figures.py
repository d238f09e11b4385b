"""Figures (matplotlib, Agg backend), built as Figures and rendered to PNG for embedding.

* :func:`headline_heatmap` -- the primary endpoint's gain (points), language x
  intermediate, each cell with its 95% interval, Holm-flagged cells starred and framed;
* :func:`heatmaps` -- the gain per attack, one panel per attack (exploratory);
* :func:`forest` -- gains with 95% intervals, one panel per intermediate;
* :func:`clean_vs_robust` -- clean-transfer gain vs robustness gain, one panel per language.

Sizes are chosen for the page, not for a print: :func:`png` renders at
:data:`DPI` (twice the browser's 96 CSS px per inch, sharp on high-density
screens) and :func:`css_size` gives the size at which the report shows the
image, the figure's natural size, so a font set at 10 pt is displayed at
10 pt. No figure is wider than :data:`MAX_WIDTH_IN`, which fits the report's
column (:data:`MAX_CSS_WIDTH`), so the page never scales one down; text is at
least 9 pt and the panel grids grow with their content.
:mod:`analysis.figure_checks` verifies both.
"""

from __future__ import annotations

import io
import math
import struct
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analysis.tables import points

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: PNG resolution (pixels per inch): twice :data:`CSS_DPI`.
DPI = 192
#: CSS pixels per inch at 100% zoom.
CSS_DPI = 96
#: The report's column width in CSS px; a figure is shown at its natural size up to it.
MAX_CSS_WIDTH = 1160
#: The widest figure (inches) built, so that it fits :data:`MAX_CSS_WIDTH` with its margins.
MAX_WIDTH_IN = 11.5
#: Font sizes (points at displayed size): titles, labels, tick labels and cell texts.
TITLE_PT, LABEL_PT, TICK_PT, SMALL_PT = 12, 10.5, 10, 9
#: The average width of a character of the default font (DejaVu Sans), in ems; an upper estimate.
CHAR_EM = 0.62
#: Diverging colour map, centred on zero: blue = more robust than the baseline.
CMAP = "RdBu"


def _plt() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes at :data:`DPI`, cropped to its content; closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.08)
    _plt().close(fig)
    return buf.getvalue()


def css_size(png_bytes: bytes) -> tuple[int, int]:
    """The (width, height) in CSS px at which a PNG from :func:`png` shows its fonts at their size."""
    width, height = struct.unpack(">II", png_bytes[16:24])
    return round(width * CSS_DPI / DPI), round(height * CSS_DPI / DPI)


def _text_in(text: str, pt: float) -> float:
    """An upper estimate of the width of one line of ``text`` at ``pt`` points, in inches."""
    return len(text) * pt * CHAR_EM / 72


def _columns(n: int, most: int) -> int:
    """Columns of a grid of ``n`` panels, at most ``most`` a row, rows filled evenly (4 panels, 3 fit: 2 x 2)."""
    most = max(1, min(n, most))
    return math.ceil(n / math.ceil(n / most)) if n else 1


def _wrap_label(text: str, width_in: float, pt: float) -> str:
    """``text`` broken before ``[`` (an attack's parameters) when it is wider than ``width_in``."""
    if _text_in(text, pt) <= width_in or "[" not in text:
        return text
    head, _, tail = text.partition("[")
    return f"{head}\n[{tail}"


def _column_labels(ax: Axes, labels: Sequence[str], cell_in: float, pt: float = TICK_PT) -> None:
    """x tick labels, turned 35 degrees when the widest would run into its neighbour."""
    turn = max((_text_in(s, pt) for s in labels), default=0) > 0.92 * cell_in
    ax.set_xticks(range(len(labels)), labels, fontsize=pt, rotation=35 if turn else 0, ha="right" if turn else "center",
                  rotation_mode="anchor" if turn else "default")  # fmt: skip


def _ink(rgba: Sequence[float]) -> str:
    """Black or white, whichever reads on a cell of colour ``rgba``."""
    r, g, b = rgba[:3]
    return "white" if 0.299 * r + 0.587 * g + 0.114 * b < 0.5 else "black"




def _whole(v: float) -> str:
    """Points to the nearest whole, signed; "0" rather than "-0" or "+0"."""
    text = f"{v:+.0f}"
    return "0" if text in ("-0", "+0") else text


def _limit(gains: np.ndarray) -> float:
    """The colour scale's half-range (points): the largest |gain|, at least 1."""
    finite = gains[np.isfinite(gains)]
    return max(1.0, float(np.abs(finite).max())) if finite.size else 1.0


def _grid(cells: pd.DataFrame, column: str, rows: list[str], cols: list[str], rowkey: str = "language", colkey: str = "intermediate") -> np.ndarray:
    return cells.pivot_table(index=rowkey, columns=colkey, values=column, aggfunc="first").reindex(index=rows, columns=cols).to_numpy(float)


def headline_heatmap(cells: pd.DataFrame, title: str, overall: pd.DataFrame | None = None, alpha: float = 0.05) -> Figure:
    """Gain (points) per zero-shot language (rows) and intermediate (columns),
    each cell with its value and 95% interval; cells flagged by Holm at
    ``alpha`` starred and framed. ``overall`` (one row per intermediate: the
    language-averaged headline) adds a last row, set apart."""
    plt = _plt()
    inters = sorted(map(str, cells["intermediate"].unique()))
    langs = sorted(map(str, cells["language"].unique()))
    gain, lo, hi, flag = (_grid(cells, c, langs, inters) for c in ("gain", "ci_low", "ci_high", "flagged"))
    labels = list(langs)
    if overall is not None and len(overall):
        row = overall.set_index("intermediate").reindex(inters)
        gain, lo, hi, flag = (np.vstack([g, row[c].to_numpy(float)[None, :]]) for g, c in ((gain, "gain"), (lo, "ci_low"), (hi, "ci_high"), (flag, "flagged")))
        labels.append("mean over\nlanguages")
    values = gain * 100
    lim = _limit(values)
    cell_w, cell_h = 1.15, 0.62
    label_w = max(_text_in(s, TICK_PT) for s in ["mean over", *langs]) + 0.5
    width = min(MAX_WIDTH_IN, label_w + cell_w * len(inters) + 1.3)
    fig, ax = plt.subplots(figsize=(width, cell_h * len(labels) + 1.9), layout="constrained")
    im = ax.imshow(values, cmap=CMAP, vmin=-lim, vmax=lim, aspect="auto")
    for r in range(len(labels)):
        for c in range(len(inters)):
            v = values[r, c]
            if not np.isfinite(v):
                ax.text(c, r, "n/a", ha="center", va="center", fontsize=SMALL_PT, color="0.4")
                continue
            flagged = bool(flag[r, c] > 0) if np.isfinite(flag[r, c]) else False
            ink = _ink(im.cmap(im.norm(v)))
            ax.text(c, r - 0.13, points(gain[r, c]) + ('*' if flagged else ''), ha="center", va="center", fontsize=11,
                    fontweight="bold" if flagged else "normal", color=ink)  # fmt: skip
            if np.isfinite(lo[r, c]) and np.isfinite(hi[r, c]):
                ax.text(c, r + 0.22, f"[{points(lo[r, c])}, {points(hi[r, c])}]", ha="center", va="center", fontsize=SMALL_PT, color=ink)
            if flagged:
                ax.add_patch(plt.Rectangle((c - 0.47, r - 0.47), 0.94, 0.94, fill=False, lw=2.2, ec="black"))
    if len(labels) > len(langs):
        ax.axhline(len(langs) - 0.5, color="white", lw=5)
    _column_labels(ax, inters, cell_w)
    ax.set_yticks(range(len(labels)), labels, fontsize=TICK_PT)
    ax.tick_params(length=0)
    ax.set_xlabel("intermediate task (vs standard fine-tuning)", fontsize=LABEL_PT)
    ax.set_ylabel("zero-shot language", fontsize=LABEL_PT)
    bar = fig.colorbar(im, ax=ax, shrink=min(1.0, 3.5 / (cell_h * len(labels))), aspect=18)
    bar.set_label("gain (points)", fontsize=LABEL_PT)
    bar.ax.tick_params(labelsize=TICK_PT)
    ax.set_title(f"{title}\n* framed: Holm-adjusted p < {alpha:g}; [ ]: 95% interval", fontsize=TITLE_PT, loc="left")
    return fig


def heatmaps(per_attack: pd.DataFrame, title: str) -> Figure:
    """Gain (points) per attack: one panel per attack, languages x intermediates,
    each cell with its value; panels sized to their cells and titles."""
    plt = _plt()
    attacks = sorted(map(str, per_attack["attack"].unique()))
    inters = sorted(map(str, per_attack["intermediate"].unique()))
    langs = sorted(map(str, per_attack["language"].unique()))
    lim = _limit(per_attack["gain"].to_numpy(float) * 100)
    cell_w, cell_h = 0.55, 0.34
    panel_w = max(cell_w * len(inters), 1.6)
    titles = [_wrap_label(a, panel_w, LABEL_PT) for a in attacks]
    title_w = max(max(_text_in(line, LABEL_PT) for line in t.split("\n")) for t in titles)
    panel_w = max(panel_w, title_w + 0.1)
    label_w = max(_text_in(s, TICK_PT) for s in langs) + 0.35
    cols = _columns(len(attacks), int((MAX_WIDTH_IN - 1.4) // (panel_w + label_w)))
    rows = math.ceil(len(attacks) / cols)
    title_lines = max(t.count("\n") + 1 for t in titles)
    tick_h = max(_text_in(s, TICK_PT) for s in inters) * 0.6 + 0.3
    panel_h = cell_h * len(langs) + tick_h + 0.25 * title_lines
    fig, axes = plt.subplots(rows, cols, figsize=(cols * (panel_w + label_w) + 1.4, rows * panel_h + 0.6), squeeze=False, layout="constrained")
    im = None
    for ax, attack, name in zip(axes.flat, attacks, titles):
        sub = per_attack[per_attack["attack"] == attack]
        values = _grid(sub, "gain", langs, inters) * 100
        im = ax.imshow(values, cmap=CMAP, vmin=-lim, vmax=lim, aspect="auto")
        for r in range(len(langs)):
            for c in range(len(inters)):
                if np.isfinite(values[r, c]):
                    ax.text(c, r, _whole(values[r, c]), ha="center", va="center", fontsize=SMALL_PT, color=_ink(im.cmap(im.norm(values[r, c]))))
        _column_labels(ax, inters, cell_w, TICK_PT)
        ax.set_yticks(range(len(langs)), langs, fontsize=TICK_PT)
        ax.tick_params(length=0)
        ax.set_title(name, fontsize=LABEL_PT)
    for ax in list(axes.flat)[len(attacks) :]:
        ax.axis("off")
    if im is not None:
        bar = fig.colorbar(im, ax=axes, shrink=min(1.0, 3.0 / (rows * panel_h)), aspect=18)
        bar.set_label("gain (points)", fontsize=LABEL_PT)
        bar.ax.tick_params(labelsize=TICK_PT)
    fig.suptitle(title, fontsize=TITLE_PT)
    return fig


def forest(cells: pd.DataFrame, title: str) -> Figure:
    """Gains (points) with 95% intervals, one panel per intermediate, a row
    per language; Holm-flagged cells in red."""
    plt = _plt()
    inters = sorted(map(str, cells["intermediate"].unique()))
    langs = sorted(map(str, cells["language"].unique()))
    cols = _columns(len(inters), 3)
    rows = math.ceil(len(inters) / cols)
    height = max(1.6, 0.3 * len(langs) + 0.8)
    fig, axes = plt.subplots(rows, cols, figsize=(min(MAX_WIDTH_IN, 3.5 * cols + 0.4), height * rows + 0.9), squeeze=False, sharex=True, layout="constrained")
    for ax, name in zip(axes.flat, inters):
        sub = cells[cells["intermediate"] == name].set_index("language").reindex(langs)
        y = np.arange(len(langs))
        gain = sub["gain"].to_numpy(float) * 100
        lo = sub["ci_low"].to_numpy(float) * 100
        hi = sub["ci_high"].to_numpy(float) * 100
        flagged = sub["flagged"].fillna(False).to_numpy(bool)
        ax.hlines(y, lo, hi, color=np.where(flagged, "tab:red", "0.35"), lw=1.6)
        ax.scatter(gain, y, c=np.where(flagged, "tab:red", "black"), s=22, zorder=3)
        ax.axvline(0, color="0.6", lw=0.9)
        ax.set_yticks(y, langs, fontsize=TICK_PT)
        ax.tick_params(axis="x", labelsize=TICK_PT)
        ax.xaxis.set_tick_params(labelbottom=True)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=LABEL_PT + 0.5)
    for ax in list(axes.flat)[len(inters) :]:
        ax.axis("off")
    fig.supxlabel("gain vs standard fine-tuning (points, 95% interval; red: Holm-flagged)", fontsize=LABEL_PT)
    fig.suptitle(title, fontsize=TITLE_PT)
    return fig


MARKERS = "osD^vP*Xh<>"


def clean_vs_robust(gains: pd.DataFrame, title: str) -> Figure:
    """Per language: clean-transfer gain (x) vs robustness gain (y), one point
    per intermediate (colour and marker); the legend sits right of the panels."""
    plt = _plt()
    langs = sorted(map(str, gains["language"].unique()))
    inters = sorted(map(str, gains["intermediate"].unique()))
    legend_w = max(_text_in(s, TICK_PT) for s in [*inters, "intermediate"]) + 0.6
    cols = _columns(len(langs), int((MAX_WIDTH_IN - legend_w - 0.5) // 2.9))
    rows = math.ceil(len(langs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.9 * cols + legend_w + 0.5, 2.5 * rows + 0.9), squeeze=False, layout="constrained")
    style = {name: (plt.get_cmap("tab10")(k % 10), MARKERS[k % len(MARKERS)]) for k, name in enumerate(inters)}
    for ax, lang in zip(axes.flat, langs):
        sub = gains[gains["language"] == lang]
        for x in sub.itertuples():
            colour, marker = style[str(x.intermediate)]
            ax.scatter(x.clean_gain * 100, x.robust_gain * 100, s=40, color=colour, marker=marker)
        ax.axhline(0, color="0.75", lw=0.8, zorder=0)
        ax.axvline(0, color="0.75", lw=0.8, zorder=0)
        ax.set_title(lang, fontsize=LABEL_PT + 0.5)
        ax.tick_params(labelsize=TICK_PT)
        ax.locator_params(nbins=5)
        ax.margins(0.12)
    for ax in list(axes.flat)[len(langs) :]:
        ax.axis("off")
    handles = [plt.Line2D([], [], marker=m, ls="", color=c, label=name) for name, (c, m) in style.items()]
    fig.legend(handles=handles, loc="outside right upper", fontsize=TICK_PT, frameon=False, title="intermediate", title_fontsize=LABEL_PT)
    fig.supxlabel("clean-transfer gain (points)", fontsize=LABEL_PT)
    fig.supylabel("robustness gain (points)", fontsize=LABEL_PT)
    fig.suptitle(title, fontsize=TITLE_PT)
    return fig


__all__ = ["CSS_DPI", "DPI", "MAX_CSS_WIDTH", "MAX_WIDTH_IN", "clean_vs_robust", "css_size", "forest", "headline_heatmap", "heatmaps", "png"]
