"""Existing sweep folders keep their keys.

``tests/data/layout_keys.json`` holds, for every shipped spec (and the fault
tests' spec), the spec's fingerprint and every cell's key as the layout of
2026-12-06 (commit 0f90ae3) computed them. A refactoring that changes one
of them re-keys sweeps users already ran: their finished work would be
redone and `resume` would refuse the spec. Change a key only on purpose
(a new ``SCHEMA_VERSION``, or a shipped spec edited: search_spaces/demo.yaml
(the demo of issue 19, 2026-12-07: five intermediates, three seeds;
2026-12-07 again: five seeds), tests/e2e/machinery.yaml
(2 trials a cell, 2026-12-06); ``confirm.replicate_intermediate`` on by
default (issue 17, 2026-12-07): the confirm runs of intermediates in
robustness.yaml and xstilts.yaml, whose folders started before it read the
field as off from their sweep.json and keep their keys), and regenerate
this file then (its generator is the test's ``_describe``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from raygrid.grid import expand
from raygrid.spec import SweepSpec, load_spec, parse_spec_text
from raygrid.testing.faultrun import spec_text

REPO = Path(__file__).resolve().parents[2]
GOLDEN = json.loads((REPO / "tests" / "data" / "layout_keys.json").read_text())


def _spec(name: str) -> SweepSpec:
    if name == "raygrid.testing.faultrun.SPEC":
        return parse_spec_text(spec_text("tiny-model", "sweeps"), source="faultrun")
    return load_spec(REPO / name)


def _describe(spec: SweepSpec) -> dict[str, Any]:
    cells = [
        [c.stage.value, c.intermediate, c.target or "", str(c.seed) if c.seed is not None else "", c.key]
        for c in expand(spec).cells
    ]
    return {"fingerprint": spec.fingerprint(), "cells": sorted(cells)}


def test_every_shipped_spec_is_covered() -> None:
    shipped = {str(p.relative_to(REPO)) for p in (REPO / "search_spaces").glob("*.yaml")}
    assert shipped <= set(GOLDEN), sorted(shipped - set(GOLDEN))


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_spec_fingerprint_and_cell_keys_are_unchanged(name: str) -> None:
    assert _describe(_spec(name)) == GOLDEN[name]
