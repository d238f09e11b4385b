"""``raygrid cell``: one cell of the grid, end to end, without Ray."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from raygrid.commands._args import add_trust_remote_code, languages, non_negative_int, positive_float, positive_int, seed
from raygrid.errors import ConfigError


def add_data_arguments(p: argparse.ArgumentParser) -> None:
    """--data / --data-dir, shared by the commands that load task data."""
    p.add_argument(
        "--data",
        choices=("hub", "bundled"),
        default="hub",
        help="'hub' (default) loads from the Hugging Face hub; 'bundled' uses the small fixtures shipped with raygrid",
    )
    p.add_argument(
        "--data-dir",
        action="append",
        metavar="DIR",
        help="local files overriding any source: DIR/<task>/<split>.<lang>.{jsonl,csv,parquet} (repeatable)",
    )


def data_sources(args: argparse.Namespace) -> Any:
    """The DataSources that --data / --data-dir describe."""
    from raygrid.tasks import DataSources

    for directory in args.data_dir or ():
        if not Path(directory).is_dir():
            raise ConfigError(f"--data-dir {directory!r}: not a directory")
    return DataSources(local_dirs=tuple(Path(d) for d in args.data_dir or ()), bundled=args.data == "bundled")


def add_hparam_arguments(p: argparse.ArgumentParser) -> None:
    """One option per hyper-parameter of raygrid.hparams that has a ``flag``
    (its value checked again, with the spec's message, by Overrides)."""
    from raygrid.hparams import SEARCHABLE

    for name, row in SEARCHABLE.items():
        if row.flag is not None:
            kind = positive_int if row.kind is int else positive_float
            metavar = row.flag.lstrip("-").replace("-", "_").upper()  # --epochs EPOCHS, as before the table
            p.add_argument(row.flag, dest=name, type=kind, metavar=metavar, help=row.help)


def hparam_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The hyper-parameters given on the command line, by name (``None``: not given)."""
    from raygrid.hparams import SEARCHABLE

    return {name: getattr(args, name) for name, row in SEARCHABLE.items() if row.flag is not None}


def register(sub: Any) -> None:
    p = sub.add_parser(
        "cell",
        help="run one cell of the grid (intermediate -> target) without Ray",
        description="Run one cell end to end without Ray: intermediate training (skipped for 'none'), "
        "target training on English data, zero-shot evaluation per language.",
    )
    p.add_argument("--model", required=True, help="hub id (e.g. FacebookAI/xlm-roberta-large) or local directory")
    p.add_argument("--intermediate", required=True, help="intermediate task, 'none' (baseline), 'all' or 'a+b'")
    p.add_argument("--target", required=True, help="target task (see `raygrid tasks --role target`)")
    p.add_argument("--languages", type=languages, help="comma-separated languages (default: all of the target's)")
    p.add_argument("--max-train-examples", type=positive_int, help="cap per training task (seeded subsample)")
    p.add_argument("--max-eval-examples", type=positive_int, help="cap per language and split")
    p.add_argument("--output", default="runs/cell", help="output directory (default: runs/cell)")
    p.add_argument("--seed", type=seed, default=0)
    add_data_arguments(p)
    p.add_argument("--split", choices=("dev", "test"), help="split scored zero-shot (default: test where it exists)")
    add_hparam_arguments(p)
    p.add_argument(
        "--retrieval-layer", type=non_negative_int, help="retrieval targets: hidden layer to mean-pool (0: embeddings)"
    )
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    add_trust_remote_code(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from raygrid.cell import CellSpec, Overrides, format_table, run_cell
    from raygrid.tasks.types import Split

    spec = CellSpec(
        model=args.model,
        intermediate=args.intermediate,
        target=args.target,
        languages=args.languages or (),
        seed=args.seed,
        max_train_examples=args.max_train_examples,
        max_eval_examples=args.max_eval_examples,
        eval_split=Split(args.split) if args.split else None,
        overrides=Overrides(**hparam_overrides(args)),
        retrieval_layer=args.retrieval_layer,
    )
    result = run_cell(
        spec,
        args.output,
        data_sources(args),
        device=args.device,
        log=lambda message: print(f"[raygrid] {message}", file=sys.stderr, flush=True),
        trust_remote_code=args.trust_remote_code,
    )
    print(f"{spec.intermediate} -> {spec.target}  (model {spec.model}, seed {spec.seed}, run {result.run_key})")
    print(format_table(result.languages))
    print(f"results: {Path(args.output) / 'results'}")
    return 0
