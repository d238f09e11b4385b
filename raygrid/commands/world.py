"""``raygrid world build DIR``: the synthetic multilingual world (data + pretrained model)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from raygrid.commands._args import positive_int, seed


def register(sub: Any) -> None:
    p = sub.add_parser(
        "world",
        help="build the synthetic multilingual world: task files, corpus and a pretrained tiny XLM-R",
        description="A small multilingual world in which cross-lingual transfer, intermediate-task gains and "
        "attack damage really exist, for offline demos and tests. Specs name DIR/data (data.local_dirs) "
        "and DIR/model (model.name_or_path).",
    )
    actions = p.add_subparsers(dest="world_action", metavar="ACTION", required=True)
    build = actions.add_parser(
        "build",
        help="write the world into DIR (instant when DIR already holds the same world)",
        description="Write DIR/data/<task>/<split>.<lang>.jsonl (mnli, qqp, squad, xnli, pawsx, xquad in their "
        "hub schemas), DIR/corpus and DIR/model (a tiny XLM-R pretrained on the corpus, about 2-3 minutes "
        "on 2 CPUs). Cached: skipped when DIR holds a world of the same generator version, seed and config.",
    )
    build.add_argument("out_dir", metavar="DIR")
    build.add_argument("--seed", type=seed, default=0, help="seeds the whole world (default: 0)")
    build.add_argument("--force", action="store_true", help="rebuild even if DIR holds this world")
    build.add_argument("--no-model", action="store_true", help="write the data and corpus only (no pretraining)")
    build.add_argument("--pretrain-steps", type=positive_int, help="MLM steps (default: the world's own)")
    build.add_argument("--json", action="store_true", help="print the manifest as JSON")
    build.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from raygrid.world import WorldConfig, build_world

    config = WorldConfig()
    if args.pretrain_steps is not None:
        config = replace(config, pretrain=replace(config.pretrain, steps=args.pretrain_steps))

    def log(message: str) -> None:
        if not args.json:
            print(message, file=sys.stderr, flush=True)

    world = build_world(
        args.out_dir, seed=args.seed, config=config, force=args.force, with_model=not args.no_model, log=log
    )
    if args.json:
        print(json.dumps({**world.manifest, "reused": world.reused}, indent=2, ensure_ascii=False))
        return 0
    model = world.manifest.get("model") or {}
    print(f"world {world.root}: data {world.data_dir}" + (f", model {world.model_dir}" if model else ""))
    if model and not world.reused:
        print(f"pretrained in {model['seconds']} s, final MLM loss {model['final_mlm_loss']}")
    return 0
