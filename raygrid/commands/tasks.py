"""``raygrid tasks``: the task catalogue as a table or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("tasks", help="list the task catalogue", description="List the task catalogue.")
    p.add_argument("--json", action="store_true", help="one JSON object per task")
    p.add_argument("--role", choices=("intermediate", "target"), help="only tasks of this role")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raygrid.tasks import all_tasks

    tasks = [t for t in all_tasks() if args.role is None or t.role.value == args.role]
    if args.json:
        print(json.dumps([t.summary() for t in tasks], indent=2, ensure_ascii=False))
        return 0
    header = ("name", "role", "format", "metric", "langs", "hub dataset", "train data")
    rows = [
        (
            t.name,
            t.role.value,
            t.format.value,
            t.metric,
            str(len(t.languages)) if len(t.languages) > 3 else ",".join(t.languages),
            t.hub.path if t.hub else "(local files only)",
            t.train_task or ("-" if not t.trainable else "own"),
        )
        for t in tasks
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0
