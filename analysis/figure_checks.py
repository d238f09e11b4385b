"""Legibility checks for matplotlib figures: overlapping text, small fonts.

A figure is legible when no two of the texts it draws overprint each other
and every text is at least :data:`MIN_PT` points high *as displayed*. The
texts are the ones the renderer actually draws (titles, axis labels, tick
labels, annotations, legend and colorbar texts; a tick label matplotlib
keeps in its pool but does not draw is not one of them), each with the box
``Text.get_window_extent(renderer)`` gives after the figure is drawn.

The report (:mod:`analysis.report`) runs :func:`problems` on every figure it
embeds and states any problem under the figure; the tests
(tests/analysis/test_figures.py) require none.

Example:
    >>> fig = ...  # a matplotlib Figure  # doctest: +SKIP
    >>> problems(fig, max_css_width=1160)  # doctest: +SKIP
    []
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.text import Text

#: The smallest legible font, in points at displayed size.
MIN_PT = 9.0
#: CSS pixels per inch: a browser at 100% zoom shows 96 CSS px per inch, so a
#: figure shown at ``width_in * CSS_DPI`` CSS px shows its fonts at their size.
CSS_DPI = 96.0
#: Two boxes overlap when they share more than this many pixels both ways
#: (anti-aliasing and rounding make touching boxes share a fraction of one).
TOLERANCE_PX = 0.5


@dataclass(frozen=True)
class TextBox:
    """One drawn text: its artist, string, font size (points), box (figure
    pixels, axis-aligned: for a turned text the box around it) and its
    outline, the four corners of the turned text's own rectangle."""

    artist: Text
    text: str
    fontsize: float
    x0: float
    y0: float
    x1: float
    y1: float
    corners: tuple[tuple[float, float], ...]

    def overlaps(self, other: TextBox, tolerance: float = TOLERANCE_PX) -> bool:
        """Whether the two outlines share an area more than ``tolerance`` px deep
        (separating axes: two convex outlines are apart when their shadows on
        an edge's normal are)."""
        dx = min(self.x1, other.x1) - max(self.x0, other.x0)
        dy = min(self.y1, other.y1) - max(self.y0, other.y0)
        if dx <= tolerance or dy <= tolerance:
            return False
        for outline in (self.corners, other.corners):
            for k in range(4):
                (ax, ay), (bx, by) = outline[k], outline[(k + 1) % 4]
                nx, ny = ay - by, bx - ax
                norm = math.hypot(nx, ny) or 1.0
                a = [(x * nx + y * ny) / norm for x, y in self.corners]
                b = [(x * nx + y * ny) / norm for x, y in other.corners]
                if min(max(a), max(b)) - max(min(a), min(b)) <= tolerance:
                    return False
        return True

    def describe(self) -> str:
        return f"{self.text!r} ({self.fontsize:g} pt)"


def _outline(t: Text, renderer: RendererBase, x0: float, y0: float, x1: float, y1: float) -> tuple[tuple[float, float], ...]:
    """The corners of ``t``'s own rectangle: its unturned size, turned by its
    rotation about the centre of its axis-aligned box (which a turned
    rectangle's box shares)."""
    rotation = float(t.get_rotation())
    angle = rotation % 180
    if angle == 0:
        return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))
    t.set_rotation(0)
    try:
        flat = t.get_window_extent(renderer)
    finally:
        t.set_rotation(rotation)
    w, h = flat.width / 2, flat.height / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    return tuple((cx + dx * c - dy * s, cy + dx * s + dy * c) for dx, dy in ((-w, -h), (w, -h), (w, h), (-w, h)))


def draw(fig: Figure) -> tuple[RendererBase, list[Text]]:
    """Draws ``fig`` on its Agg canvas; returns the renderer and, in drawing
    order, every text artist the renderer drew (each once)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    renderer = canvas.get_renderer()
    drawn: dict[int, Text] = {}
    original = renderer.draw_text

    def record(gc: Any, x: float, y: float, s: str, prop: Any, angle: float, ismath: Any = False, mtext: Text | None = None) -> Any:
        if mtext is not None and s.strip():
            drawn.setdefault(id(mtext), mtext)
        return original(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        fig.draw(renderer)
    finally:
        del renderer.draw_text
    return renderer, list(drawn.values())


def _boxes(renderer: RendererBase, texts: list[Text]) -> list[TextBox]:
    boxes = []
    for t in texts:
        if not t.get_visible() or not t.get_text().strip():
            continue
        b = t.get_window_extent(renderer)
        outline = _outline(t, renderer, b.x0, b.y0, b.x1, b.y1)
        boxes.append(TextBox(t, t.get_text(), float(t.get_fontsize()), b.x0, b.y0, b.x1, b.y1, outline))
    return boxes


def text_boxes(fig: Figure) -> list[TextBox]:
    """The visible, non-empty texts ``fig`` draws, with their window extents."""
    return _boxes(*draw(fig))


def overlapping(boxes: list[TextBox]) -> list[tuple[TextBox, TextBox]]:
    """Every pair of boxes that overlap."""
    return [(a, b) for k, a in enumerate(boxes) for b in boxes[k + 1 :] if a.overlaps(b)]


def display_scale(fig: Figure, renderer: RendererBase, max_css_width: float | None) -> float:
    """How much a page shrinks drawn ``fig``: 1 when it is shown at its
    natural size (``width_in * CSS_DPI`` CSS px, after a tight crop), less
    when that is wider than ``max_css_width`` and the page scales it down to fit."""
    if max_css_width is None:
        return 1.0
    width_css = fig.get_tightbbox(renderer).width * CSS_DPI
    return min(1.0, max_css_width / width_css) if width_css > 0 else 1.0


def small(boxes: list[TextBox], scale: float = 1.0, min_pt: float = MIN_PT) -> list[TextBox]:
    """The texts under ``min_pt`` points once the figure is shown at ``scale``."""
    return [b for b in boxes if b.fontsize * scale < min_pt - 1e-9]


def problems(fig: Figure, *, max_css_width: float | None = None, min_pt: float = MIN_PT) -> list[str]:
    """Overlapping texts and texts under ``min_pt`` at displayed size (the
    figure shown at its natural size, scaled down to ``max_css_width`` CSS px
    when wider), in words; empty when the figure is legible."""
    renderer, texts = draw(fig)
    boxes = _boxes(renderer, texts)
    scale = display_scale(fig, renderer, max_css_width)
    out = [f"text {a.describe()} overlaps {b.describe()}" for a, b in overlapping(boxes)]
    out += [f"text {b.describe()} is {b.fontsize * scale:.1f} pt as displayed (< {min_pt:g})" for b in small(boxes, scale, min_pt)]
    return out


__all__ = ["CSS_DPI", "MIN_PT", "TextBox", "display_scale", "draw", "overlapping", "problems", "small", "text_boxes"]
