"""`raygrid status`'s table: a target cell's confirm runs on one row per status."""

from __future__ import annotations

import io
from typing import Any

from raygrid.commands.sweep import _print_progress, _seed_list


def _cell(stage: str, name: str, status: str, n_trials: int = 0, **extra: Any) -> dict[str, Any]:
    return {"stage": stage, "name": name, "status": status, "n_trials": n_trials, **extra}


def _table(cells: list[dict[str, Any]]) -> list[str]:
    progress = {"done": 0, "running": 0, "pending": 0, "blocked": 0, "total": len(cells), "trials_finished": 0,
                "failures": 0, "cells": cells}  # fmt: skip
    out = io.StringIO()
    _print_progress(progress, out)
    return [" ".join(line.split()) for line in out.getvalue().splitlines()[2:]]


def test_seed_lists_name_runs_of_consecutive_seeds() -> None:
    assert _seed_list([3]) == "seed 3"
    assert _seed_list([0, 1, 2, 3, 4]) == "seeds 0-4"
    assert _seed_list([0, 1, 2, 4, 7, 8]) == "seeds 0-2, 4, 7-8"


def test_confirm_runs_of_a_cell_share_a_row_per_status_and_nothing_else_is_grouped() -> None:
    cells = [
        _cell("intermediate", "mnli", "done", 2, complete=2, best_value=0.8),
        _cell("target", "none -> xnli", "done", 2, complete=2, best_value=0.7),
        *[_cell("confirm", f"none -> xnli (seed {s})", "done") for s in range(5)],
        _cell("confirm", "mnli -> xnli (seed 0)", "done"),
        _cell("confirm", "mnli -> xnli (seed 1)", "failed"),
        _cell("confirm", "mnli -> xnli (seed 2)", "done"),
        _cell("confirm", "mnli -> xnli (seed 3)", "running"),
    ]
    assert _table(cells) == [
        "intermediate mnli done 2+0p+0f/2 0.8000",
        "target none -> xnli done 2+0p+0f/2 0.7000",
        "confirm none -> xnli (seeds 0-4) done",
        "confirm mnli -> xnli (seeds 0, 2) done",
        "confirm mnli -> xnli (seed 1) failed",
        "confirm mnli -> xnli (seed 3) running",
    ]
    assert cells[2]["name"] == "none -> xnli (seed 0)"  # the progress (and --json) keep one entry per run
