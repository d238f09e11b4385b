"""Every figure the report makes is legible (issue 19): no two texts it draws
overlap, and every text is at least 9 pt as the HTML page displays it.

The figures are the report's own (:func:`analysis.report.figure_set` on the
analysis :func:`analysis.report.analyze` returns) for two synthetic sweeps:
the demo's shape with the long attack names real sweeps have
(``char_noise[mode=adaptive]``), and a wide one (15 XNLI languages, 7
intermediates). The checker itself is tested on figures made to fail.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest

from analysis import figure_checks, figures
from analysis.report import analyze, figure_set
from analysis.synthetic import XNLI_LANGUAGES, ExampleDesign, Planted, aggregate_rows, example_rows, simulate_examples, write_sweep_dir

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ATTACKS = ("char_noise[mode=adaptive]", "char_noise[mode=fixed]", "homoglyph")
DESIGNS = {
    "demo": ExampleDesign(
        languages=("ar", "ur", "bg", "ru", "hi", "sw", "en"), intermediates=("none", "mnli", "squad", "hellaswag", "anli", "qqp"),
        attacks=ATTACKS, seeds=3, n_examples=120, seed_sd=0.5, planted=(Planted("hellaswag", ("ar", "ur"), robust_gain=0.2),),
    ),
    "wide": ExampleDesign(
        languages=XNLI_LANGUAGES, intermediates=("none", "mnli", "squad", "hellaswag", "anli", "qqp", "cosmosqa"),
        attacks=ATTACKS, seeds=2, n_examples=60, seed_sd=0.5,
    ),
}  # fmt: skip


@pytest.fixture(scope="module", params=sorted(DESIGNS))
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A synthetic sweep analysed by :func:`analyze`: its report and the figures it makes."""
    root = tmp_path_factory.mktemp(request.param)
    examples = example_rows(simulate_examples(DESIGNS[request.param], 1, rng=3))
    sweep = write_sweep_dir(root / "sweep", aggregate_rows(examples), examples=examples)
    result = analyze(sweep, root / "report", n_perm=50, jobs=1)
    target = result.targets["xnli"]
    return {"report": result, "target": target, "figures": figure_set("xnli", target)}


def test_the_report_makes_every_figure(report: dict) -> None:
    assert set(report["figures"]) == {"headline", "forest", "scatter", "heatmaps"}
    assert set(report["target"].figures) == set(report["figures"])


def test_no_text_of_any_figure_overlaps_another_and_none_is_under_9_pt(report: dict) -> None:
    for name, fig in report["figures"].items():
        assert figure_checks.problems(fig, max_css_width=figures.MAX_CSS_WIDTH) == [], name


def test_the_check_sees_the_texts_that_matter(report: dict) -> None:
    """Titles, tick labels, cell annotations, colorbar and legend texts are all
    among the boxes checked (a check that saw nothing would pass anything)."""
    languages = report["target"].design.zero_shot
    texts = {name: {b.text for b in figure_checks.text_boxes(fig)} for name, fig in report["figures"].items()}
    assert set(languages) <= texts["headline"] and "hellaswag" in texts["headline"] and "gain (points)" in texts["headline"]
    assert any(re.fullmatch(r"\[[+-]\d+\.\d, [+-]\d+\.\d\]", t) for t in texts["headline"])  # an interval in a cell
    assert any(t.startswith("char_noise") and "mode=adaptive" in t for t in texts["heatmaps"])
    assert "intermediate" in texts["scatter"] and "qqp" in texts["scatter"]  # the legend
    assert set(languages) <= texts["forest"]


def test_figures_are_shown_at_their_natural_size(report: dict) -> None:
    """The page shows each PNG at its figure's size in CSS px (fonts at their
    point size), which fits the report's column, so it is never scaled down."""
    page = report["report"].html_path.read_text()
    for name, png in report["target"].figures.items():
        width, height = figures.css_size(png)
        assert 300 < width <= figures.MAX_CSS_WIDTH, (name, width)
        assert f'width="{width}" height="{height}"' in page, name
    column = int(re.search(r"max-width:(\d+)px", page).group(1))  # type: ignore[union-attr]
    assert column >= figures.MAX_CSS_WIDTH


def _figure(texts: list[tuple[float, float, str, float, float]]) -> Figure:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(4, 2))
    for x, y, s, size, rotation in texts:
        fig.text(x, y, s, fontsize=size, rotation=rotation)
    return fig


def test_the_check_finds_overlapping_and_small_text() -> None:
    overprinted = _figure([(0.1, 0.5, "char_noise[mode=adaptive]", 10, 0), (0.3, 0.5, "char_noise[mode=fixed]", 10, 0)])
    assert any("overlaps" in p for p in figure_checks.problems(overprinted))
    tiny = _figure([(0.1, 0.5, "ar", 7, 0)])
    assert any("7.0 pt" in p for p in figure_checks.problems(tiny))
    # 10 pt text on a figure about 3.5 inches wide (336 CSS px), squeezed into 168 CSS px, is shown at about 5 pt
    wide = _figure([(0.02, 0.5, "ar", 10, 0), (0.9, 0.5, "ur", 10, 0)])
    assert figure_checks.problems(wide, max_css_width=figures.MAX_CSS_WIDTH) == []
    squeezed = figure_checks.problems(_figure([(0.02, 0.5, "ar", 10, 0), (0.9, 0.5, "ur", 10, 0)]), max_css_width=168)
    assert len(squeezed) == 2 and all(re.search(r"is [45]\.\d pt as displayed", p) for p in squeezed), squeezed


def test_turned_labels_side_by_side_do_not_count_as_overlapping() -> None:
    """Two labels turned 35 degrees whose axis-aligned boxes overlap but whose
    own rectangles do not (tick labels of a crowded heatmap)."""
    turned = _figure([(0.2, 0.3, "hellaswag", 10, 35), (0.32, 0.3, "hellaswag", 10, 35)])
    boxes = figure_checks.text_boxes(turned)
    a, b = boxes
    assert min(a.x1, b.x1) > max(a.x0, b.x0)  # the boxes around them overlap
    assert figure_checks.overlapping(boxes) == []
    crossed = _figure([(0.2, 0.3, "hellaswag", 10, 35), (0.2, 0.3, "hellaswag", 10, -35)])
    assert len(figure_checks.overlapping(figure_checks.text_boxes(crossed))) == 1


def test_a_report_of_legible_figures_carries_no_legibility_note(report: dict) -> None:
    assert not [n for n in report["target"].notes if "not fully legible" in n]


def test_tables_show_points_with_intervals(report: dict, tmp_path: Path) -> None:
    page = report["report"].html_path.read_text()
    assert re.search(r"[+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\]", page)  # "+3.2 [+0.8, +5.6]"
    cells = pd.read_csv(report["report"].html_path.parent / "xnli_cells.csv")
    assert cells["gain"].abs().max() < 1  # the CSV keeps fractions: machine-readable, unchanged
