"""``raygrid tiny-model OUT_DIR``: a tiny random-init XLM-R and its tokenizer."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from raygrid.commands._args import seed

from raygrid.errors import ConfigError


def register(sub: Any) -> None:
    p = sub.add_parser(
        "tiny-model",
        help="write a tiny random-init XLM-R with an offline tokenizer",
        description="Write a tiny random-init XLM-R (about 0.6M parameters) and a tokenizer trained offline on "
        "bundled multilingual text; loadable with from_pretrained(OUT_DIR).",
    )
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--force", action="store_true", help="write into a non-empty directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out_dir)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise ConfigError(f"{out}: directory exists and is not empty; pass --force to overwrite")
    from raygrid.testing.tiny import build_tiny_model

    path = build_tiny_model(out, seed=args.seed)
    print(f"wrote a tiny random-init XLM-R and its tokenizer to {path}")
    return 0
