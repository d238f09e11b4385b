"""``raygrid validate SPEC``: check a sweep spec and show its grid; creates nothing."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "validate",
        help="check a sweep spec and show its grid",
        description="Load and validate a sweep spec (search_spaces/*.yaml), check that its storage is writable, "
        "and print its grid: cells per stage, trials, confirm runs. Creates nothing; exit 2 on a bad spec.",
    )
    p.add_argument("spec", metavar="SPEC", help="the sweep spec, e.g. search_spaces/demo.yaml")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raygrid.grid import Stage, expand
    from raygrid.spec import check_storage, load_spec

    spec = load_spec(args.spec)
    check_storage(spec)
    grid = expand(spec)
    summary = grid.summary()
    fingerprint = spec.fingerprint()
    if args.json:
        payload = {
            "spec": str(args.spec),
            "name": spec.name,
            "model": spec.model.name_or_path,
            "sweep_dir": spec.sweep_uri,
            "fingerprint": fingerprint,
            "intermediates": list(spec.intermediates),
            "targets": {t.task: list(t.languages) for t in spec.targets},
            "confirm_seeds": list(spec.confirm.seeds),
            "attacks": [a.name for a in spec.attacks],
            **summary,
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False))
        return 0
    cells, trials = summary["cells"], summary["trials"]
    rows = [
        ("spec", str(args.spec)),
        ("name", spec.name),
        ("model", spec.model.name_or_path),
        ("sweep dir", spec.sweep_uri),
        ("grid", f"{len(spec.intermediates)} intermediate entries x {len(spec.targets)} targets"),
        (
            "cells",
            f"intermediate {cells[Stage.INTERMEDIATE.value]}, target {cells[Stage.TARGET.value]} "
            f"({summary['evaluate_only_targets']} evaluate-only), confirm {cells[Stage.CONFIRM.value]}",
        ),
        (
            "trials",
            f"{summary['total_trials']} (intermediate {trials[Stage.INTERMEDIATE.value]}, "
            f"target {trials[Stage.TARGET.value]})",
        ),
        ("confirm runs", f"{summary['confirm_runs']} (seeds {', '.join(map(str, spec.confirm.seeds))})"),
        ("attacks", ", ".join(a.name for a in spec.attacks) or "(none)"),
        ("fingerprint", fingerprint),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label.ljust(width)}  {value}")
    return 0
