"""``raygrid best``: the best configuration per language of a finished sweep.

Reads only the results store (pandas + pyarrow) and the folder's spec: no
Ray, no torch; writes nothing, so it works on a read-only copy of the sweep
directory. See :func:`raygrid.query.best_config`; the table is
:mod:`raygrid.best_table`'s (the searched hyper-parameters as columns, the
value as mean ± sd over the confirm seeds), ``--json`` the full answer.
"""

from __future__ import annotations

import argparse
import json
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
    p.add_argument(
        "--json",
        action="store_true",
        help="a JSON list (every field, the full training config and checkpoint paths) instead of the table",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raygrid.best_table import table
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
    print("\n".join(table(args.sweep_dir, best)))
    return 0
