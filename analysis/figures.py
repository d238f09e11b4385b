"""Figures (matplotlib, Agg backend), returned as PNG bytes for embedding.

* :func:`headline_heatmap` -- the primary endpoint's gain (points), intermediate x language, flags marked;
* :func:`heatmaps` -- robustness gain (points), intermediate x language, one panel per attack;
* :func:`forest` -- attack-averaged gains with 95% intervals, one panel per intermediate;
* :func:`clean_vs_robust` -- clean-transfer gain vs robustness gain, one panel per language.
"""

from __future__ import annotations

import io
import math
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _plt() -> ModuleType:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Figure, tight: bool = True) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight" if tight else None)
    _plt().close(fig)
    return buf.getvalue()


def headline_heatmap(cells: pd.DataFrame, title: str) -> bytes:
    """Gain (points) per intermediate (rows) and language (columns), each
    cell annotated with its value; Holm-flagged cells framed and starred,
    cells whose 95% interval excludes zero without surviving Holm marked
    with a dot."""
    plt = _plt()
    inters = sorted(cells["intermediate"].unique())
    langs = sorted(cells["language"].unique())
    grid = cells.pivot_table(index="intermediate", columns="language", values="gain").reindex(index=inters, columns=langs) * 100
    flag = cells.pivot_table(index="intermediate", columns="language", values="flagged", aggfunc="max").reindex(index=inters, columns=langs)
    lo = cells.pivot_table(index="intermediate", columns="language", values="ci_low").reindex(index=inters, columns=langs)
    hi = cells.pivot_table(index="intermediate", columns="language", values="ci_high").reindex(index=inters, columns=langs)
    values = grid.to_numpy(float)
    finite = values[np.isfinite(values)]
    lim = max(1.0, float(np.abs(finite).max())) if finite.size else 1.0
    fig, ax = plt.subplots(figsize=(max(5.0, 0.75 * len(langs) + 2.5), max(2.5, 0.5 * len(inters) + 1.6)))
    im = ax.imshow(values, cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
    for r in range(len(inters)):
        for c in range(len(langs)):
            v = values[r, c]
            if not np.isfinite(v):
                continue
            flagged = bool(flag.iat[r, c]) if pd.notna(flag.iat[r, c]) else False
            excludes = bool(lo.iat[r, c] > 0 or hi.iat[r, c] < 0)
            mark = "*" if flagged else ("." if excludes else "")
            ax.text(c, r, f"{v:+.1f}{mark}", ha="center", va="center", fontsize=10, fontweight="bold" if flagged else "normal",
                    color="white" if abs(v) > 0.6 * lim else "black")  # fmt: skip
            if flagged:
                ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, lw=2, ec="black"))
    ax.set_xticks(range(len(langs)), langs, fontsize=10)
    ax.set_yticks(range(len(inters)), inters, fontsize=10)
    ax.set_xlabel("zero-shot language", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.9).set_label("gain vs none (points)", fontsize=10)
    ax.set_title(title + "\n* Holm-flagged   . 95% interval excludes 0 (unadjusted)", fontsize=10)
    return _png(fig)


def heatmaps(per_attack: pd.DataFrame, title: str) -> bytes:
    """Gain in robust accuracy (points) against the baseline, per attack."""
    plt = _plt()
    attacks = sorted(per_attack["attack"].unique())
    inters = sorted(per_attack["intermediate"].unique())
    langs = sorted(per_attack["language"].unique())
    lim = max(1.0, float(np.nanmax(np.abs(per_attack["gain"].to_numpy(float)))) * 100)
    cols = min(3, len(attacks))
    rows = math.ceil(len(attacks) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(0.3 * len(langs) * cols + 2, 0.35 * len(inters) * rows + 1.5), squeeze=False)
    for ax, attack in zip(axes.flat, attacks):
        grid = per_attack[per_attack["attack"] == attack].pivot_table(index="intermediate", columns="language", values="gain")
        grid = grid.reindex(index=inters, columns=langs) * 100
        im = ax.imshow(grid.to_numpy(float), cmap="RdBu", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xticks(range(len(langs)), langs, fontsize=7, rotation=90)
        ax.set_yticks(range(len(inters)), inters, fontsize=7)
        ax.set_title(f"{attack}", fontsize=9)
    for ax in list(axes.flat)[len(attacks):]:
        ax.axis("off")
    fig.colorbar(im, ax=axes, shrink=0.6, label="gain vs none (points)")
    fig.suptitle(title, fontsize=10)
    return _png(fig)


def forest(cells: pd.DataFrame, title: str) -> bytes:
    """Gains (points) with 95% intervals, one panel per intermediate, a row
    per language; Holm-flagged cells in red. Text at 10 pt or more."""
    plt = _plt()
    inters = sorted(cells["intermediate"].unique())
    langs = sorted(cells["language"].unique())
    cols = min(3, len(inters))
    rows = math.ceil(len(inters) / cols)
    height = max(1.8, 0.32 * len(langs) + 0.9)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, height * rows + 1.0), squeeze=False, sharex=True, layout="constrained")
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
        ax.set_yticks(y, langs, fontsize=10)
        ax.tick_params(axis="x", labelsize=10)
        ax.invert_yaxis()
        ax.set_title(name, fontsize=11)
    for ax in list(axes.flat)[len(inters):]:
        ax.axis("off")
    fig.supxlabel("gain vs none (points, 95% interval; red: Holm-flagged)", fontsize=10)
    fig.suptitle(title, fontsize=12)
    return _png(fig)


def clean_vs_robust(gains: pd.DataFrame, title: str) -> bytes:
    """Per language: clean-transfer gain (x) vs robustness gain (y), one point
    per intermediate; the legend sits right of the panels."""
    plt = _plt()
    langs = sorted(gains["language"].unique())
    cols = min(4, len(langs))
    rows = math.ceil(len(langs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.0 * rows + 1.4), squeeze=False, layout="constrained")
    inters = sorted(gains["intermediate"].unique())
    colours = {name: plt.get_cmap("tab10")(k % 10) for k, name in enumerate(inters)}
    for ax, lang in zip(axes.flat, langs):
        sub = gains[gains["language"] == lang]
        ax.scatter(sub["clean_gain"] * 100, sub["robust_gain"] * 100, s=36, c=[colours[i] for i in sub["intermediate"]])
        ax.axhline(0, color="0.75", lw=0.8)
        ax.axvline(0, color="0.75", lw=0.8)
        ax.set_title(lang, fontsize=11)
        ax.tick_params(labelsize=9)
    for ax in list(axes.flat)[len(langs):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], marker="o", ls="", color=colours[i], label=i) for i in inters]
    fig.legend(handles=handles, loc="outside right upper", fontsize=10, frameon=False, title="intermediate", title_fontsize=10)
    fig.supxlabel("clean-transfer gain (points)", fontsize=10)
    fig.supylabel("robustness gain (points)", fontsize=10)
    fig.suptitle(title, fontsize=12)
    return _png(fig)


__all__ = ["clean_vs_robust", "forest", "headline_heatmap", "heatmaps"]
