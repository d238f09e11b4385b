"""The table ``raygrid best`` prints: what a person reads of :func:`raygrid.query.best_config`.

One row per (language, attack): the intermediate task, the hyper-parameters
the sweep *searched* for the target (the keys its spec gives a distribution,
not its fixed values; a column each), the reported value as mean ± sd over
the confirm seeds and the number of seeds. The full training config and the
checkpoints stay in ``raygrid best --json``.

Reads the sweep folder's ``spec.yaml`` (never writes: works on a read-only
copy); a folder whose spec cannot be read (an older or synthetic one) shows
the config keys whose values differ between the rows instead.

Example:
    >>> from raygrid.query import BestConfig
    >>> row = BestConfig(target="xnli", language="de", attack="none", metric="accuracy", selection="english-dev",
    ...                  intermediate="anli", config={"learning_rate": 3.2e-05, "num_epochs": 10}, value=0.41,
    ...                  std=0.012, n_seeds=3, checkpoint="/s/checkpoints/9809a1f920b84916")
    >>> print("\\n".join(render([row], ["learning_rate", "num_epochs"])))
    language  intermediate  learning_rate  num_epochs  accuracy       seeds
    de        anli          3.2e-05        10          0.410 ± 0.012  3
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from raygrid.errors import ConfigError
from raygrid.layout import SPEC_FILE
from raygrid.query import NO_ATTACK, BestConfig
from raygrid.storage import Location

#: The table's width: a row wider than this has its longest name cells (an
#: intermediate ``a+b+c``, an attack with its parameters) cut, with an
#: ellipsis, down to :data:`MIN_NAME` characters at the least.
WIDTH = 120
MIN_NAME = 12
ELLIPSIS = "…"
GAP = "  "


def searched_params(sweep_dir: Location | str, target: str) -> list[str] | None:
    """The hyper-parameters the sweep searched for ``target``'s cells (their
    ``search_space.target`` with the task's ``per_task`` overlay), in the
    spec's order; ``None`` if the folder's ``spec.yaml`` is not a spec
    raygrid can read."""
    from raygrid.sweep.folder import read_spec_file

    where = Location.of(sweep_dir)
    try:
        spec = read_spec_file(where / SPEC_FILE)
    except ConfigError:
        return None
    return list(spec.space_for("target", target).distributions())


def varying_params(best: Sequence[BestConfig]) -> list[str]:
    """Config keys whose values differ between the rows (sorted): the
    columns when the spec cannot say what was searched."""
    keys = sorted({k for b in best for k in b.config})
    return [k for k in keys if len({repr(b.config.get(k)) for b in best}) > 1]


def format_param(value: Any) -> str:
    """A hyper-parameter for reading: floats below 0.01 in scientific
    notation with 2 digits (learning rates ``3.2e-05``, ``2.9e-03``: one
    look compares them), others with 3 significant digits (``0.1``, ``0.01``)."""
    if value is None:
        return "-"
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and abs(value) < 1e-2:
        return f"{value:.1e}"
    return f"{value:.3g}"


def format_spread(mean: float, std: float, *, proportion: bool) -> str:
    """``mean ± sd`` (just the mean for one seed, where sd is NaN);
    proportions (accuracies, rates) to 3 decimals as ``raygrid attack``
    prints them, other metrics to 4 significant digits."""
    if math.isnan(mean):
        return "-"
    fmt = ".3f" if proportion else ".4g"
    return f"{mean:{fmt}}" if math.isnan(std) else f"{mean:{fmt}} ± {std:{fmt}}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - len(ELLIPSIS)] + ELLIPSIS


def _fit(widths: list[int], names: Sequence[int], width: int) -> list[int]:
    """``widths`` with the widest of the ``names`` columns narrowed, one
    character at a time, until the row fits ``width`` (or all are at :data:`MIN_NAME`)."""
    widths = list(widths)
    while sum(widths) + len(GAP) * (len(widths) - 1) > width:
        widest = max(names, key=lambda i: widths[i])
        if widths[widest] <= MIN_NAME:
            break
        widths[widest] -= 1
    return widths


def render(best: Sequence[BestConfig], params: Sequence[str], *, width: int = WIDTH) -> list[str]:
    """The table's lines: a header and one row per entry of ``best`` (sorted
    as given), at most ``width`` characters where the names allow it. The
    attack column is left out when every row is clean."""
    with_attack = any(b.attack != NO_ATTACK for b in best)
    metric = best[0].metric if best else "value"
    proportion = all(math.isnan(b.value) or 0.0 <= b.value <= 1.0 for b in best)
    header = ["language", *(["attack"] if with_attack else []), "intermediate", *params, metric, "seeds"]
    rows = [
        [
            b.language,
            *([b.attack] if with_attack else []),
            b.intermediate,
            *(format_param(b.config.get(p)) for p in params),
            format_spread(b.value, b.std, proportion=proportion),
            str(b.n_seeds),
        ]
        for b in best
    ]
    names = range(3 if with_attack else 2)
    widths = _fit([max(len(r[i]) for r in (header, *rows)) for i in range(len(header))], names, width)
    return [GAP.join(_cut(cell, w).ljust(w) for cell, w in zip(row, widths)).rstrip() for row in (header, *rows)]


def title(best: Sequence[BestConfig], params: Sequence[str] | None) -> list[str]:
    """The two lines above the table: target and selection; where the
    hyper-parameter columns come from."""
    first = best[0]
    if params is None:
        columns = "config keys that differ between rows (spec.yaml not readable)"
    else:
        columns = "searched " + (", ".join(params) if params else "none (all fixed in the spec)")
    return [
        f"# target {first.target}, selection {first.selection} (on {first.selection_metric}); "
        f"{first.metric}: mean ± sd over the confirm seeds",
        f"# hyper-parameters: {columns}; full configs, checkpoints: --json",
    ]


def table(sweep_dir: Location | str, best: Sequence[BestConfig]) -> list[str]:
    """The title and the table of ``best`` (a non-empty answer of
    :func:`raygrid.query.best_config` on ``sweep_dir``)."""
    params = searched_params(sweep_dir, best[0].target)
    return [*title(best, params), *render(best, varying_params(best) if params is None else params)]


__all__ = ["WIDTH", "format_param", "format_spread", "render", "searched_params", "table", "title", "varying_params"]
