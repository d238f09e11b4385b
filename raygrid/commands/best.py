"""``raygrid best``: the best configuration per language of a finished sweep.

Reads only the results store (pandas + pyarrow): no Ray, no torch; works on a
copy of the sweep directory. See :func:`raygrid.query.best_config`.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "best",
        help="best intermediate task and hyper-parameters per language",
        description=(
            "The best (intermediate task, hyper-parameters, checkpoint) per language of a sweep, "
            "with the value and the number of seeds behind it. english-dev selection (default) "
            "follows the zero-shot protocol: only English dev scores choose; oracle picks per "
            "language on the reported metric (analysis only)."
        ),
    )
    p.add_argument("sweep_dir", metavar="DIR", help="a sweep directory (spec.yaml + results/), local or s3://")
    p.add_argument("--target", required=True, help="target task, e.g. xnli")
    p.add_argument("--language", help="only this language")
    p.add_argument(
        "--metric",
        help="metric to report: the task's metrics (default: its primary one) or clean_accuracy, "
        "robust_accuracy (default with --attack), attack_success_rate, mean_words_perturbed, "
        "mean_queries, examples_per_second",
    )
    p.add_argument("--attack", help="only this attack (for attack metrics)")
    p.add_argument("--selection", default="english-dev", choices=("english-dev", "oracle"))
    p.add_argument("--json", action="store_true", help="a JSON list instead of a table")
    p.set_defaults(func=run)


def _fmt(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.4f}"


def run(args: argparse.Namespace) -> int:
    from raygrid.query import best_config

    best = best_config(
        args.sweep_dir,
        target=args.target,
        language=args.language,
        metric=args.metric,
        attack=args.attack,
        selection=args.selection,
    )
    if args.json:
        print(json.dumps([b.to_dict() for b in best], indent=2, sort_keys=True))
        return 0
    header = ("language", "attack", "intermediate", args.metric or best[0].metric, "std", "seeds", "config", "checkpoint")
    rows = [
        (
            b.language,
            b.attack,
            b.intermediate,
            _fmt(b.value),
            _fmt(b.std),
            str(b.n_seeds),
            json.dumps(b.config, sort_keys=True, separators=(",", ":")),
            b.checkpoint,
        )
        for b in best
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    print(f"# target {best[0].target}, selection {best[0].selection} (on {best[0].selection_metric})")
    for row in (header, *rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0
