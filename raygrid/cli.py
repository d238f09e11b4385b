"""The ``raygrid`` command. Thin: parses, calls the API, prints.

Start-up stays fast: this module imports neither torch nor ray nor
transformers; each subcommand imports what it needs when it runs.

Usage:
    raygrid tasks [--json]
    raygrid tiny-model OUT_DIR
    raygrid cell --model PATH_OR_ID --intermediate TASK|none|all --target TASK [options]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from raygrid.errors import ConfigError, RaygridError

EXIT_USAGE = 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def _languages(text: str) -> tuple[str, ...]:
    langs = tuple(part.strip() for part in text.split(",") if part.strip())
    if not langs:
        raise argparse.ArgumentTypeError("give at least one language code, e.g. de,fr")
    return langs


# -- tasks -------------------------------------------------------------------


def _cmd_tasks(args: argparse.Namespace) -> int:
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


# -- tiny-model ----------------------------------------------------------------


def _cmd_tiny_model(args: argparse.Namespace) -> int:
    out = Path(args.out_dir)
    if out.exists() and any(out.iterdir()) and not args.force:
        raise ConfigError(f"{out}: directory exists and is not empty; pass --force to overwrite")
    from raygrid.testing.tiny import build_tiny_model

    path = build_tiny_model(out, seed=args.seed)
    print(f"wrote a tiny random-init XLM-R and its tokenizer to {path}")
    return 0


# -- cell ----------------------------------------------------------------------


def _data_sources(args: argparse.Namespace) -> Any:
    from raygrid.tasks import DataSources

    for directory in args.data_dir or ():
        if not Path(directory).is_dir():
            raise ConfigError(f"--data-dir {directory!r}: not a directory")
    return DataSources(local_dirs=tuple(Path(d) for d in args.data_dir or ()), bundled=args.data == "bundled")


def _cmd_cell(args: argparse.Namespace) -> int:
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
        overrides=Overrides(
            learning_rate=args.learning_rate,
            num_epochs=args.epochs,
            batch_size=args.batch_size,
            grad_accumulation_steps=args.grad_accumulation_steps,
            max_seq_length=args.max_seq_length,
        ),
        retrieval_layer=args.retrieval_layer,
    )
    result = run_cell(
        spec,
        args.output,
        _data_sources(args),
        device=args.device,
        log=lambda message: print(f"[raygrid] {message}", file=sys.stderr, flush=True),
    )
    title = f"{spec.intermediate} -> {spec.target}  (model {spec.model}, seed {spec.seed}, run {result.run_key})"
    print(title)
    print(format_table(result.languages))
    print(f"results: {Path(args.output) / 'results'}")
    return 0


# -- parser ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raygrid",
        description=(
            "Transfer-grid search for English intermediate-task training (X-STILTs) "
            "and its effect on adversarial robustness in non-English languages."
        ),
    )
    parser.add_argument("--version", action="version", version=f"raygrid {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("tasks", help="list the task catalogue", description="List the task catalogue.")
    p.add_argument("--json", action="store_true", help="one JSON object per task")
    p.add_argument("--role", choices=("intermediate", "target"), help="only tasks of this role")
    p.set_defaults(func=_cmd_tasks)

    p = sub.add_parser(
        "tiny-model",
        help="write a tiny random-init XLM-R with an offline tokenizer",
        description="Write a tiny random-init XLM-R (about 0.6M parameters) and a tokenizer trained offline on "
        "bundled multilingual text; loadable with from_pretrained(OUT_DIR).",
    )
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="write into a non-empty directory")
    p.set_defaults(func=_cmd_tiny_model)

    p = sub.add_parser(
        "cell",
        help="run one cell of the grid (intermediate -> target) without Ray",
        description="Run one cell end to end without Ray: intermediate training (skipped for 'none'), "
        "target training on English data, zero-shot evaluation per language.",
    )
    p.add_argument("--model", required=True, help="hub id (e.g. FacebookAI/xlm-roberta-large) or local directory")
    p.add_argument("--intermediate", required=True, help="intermediate task, 'none' (baseline), 'all' or 'a+b'")
    p.add_argument("--target", required=True, help="target task (see `raygrid tasks --role target`)")
    p.add_argument("--languages", type=_languages, help="comma-separated languages (default: all of the target's)")
    p.add_argument("--max-train-examples", type=_positive_int, help="cap per training task (seeded subsample)")
    p.add_argument("--max-eval-examples", type=_positive_int, help="cap per language and split")
    p.add_argument("--output", default="runs/cell", help="output directory (default: runs/cell)")
    p.add_argument("--seed", type=int, default=0)
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
    p.add_argument("--split", choices=("dev", "test"), help="split scored zero-shot (default: test where it exists)")
    p.add_argument("--learning-rate", type=_positive_float)
    p.add_argument("--epochs", type=_positive_float)
    p.add_argument("--batch-size", type=_positive_int, help="effective batch size")
    p.add_argument("--grad-accumulation-steps", type=_positive_int)
    p.add_argument("--max-seq-length", type=_positive_int)
    p.add_argument("--retrieval-layer", type=int, help="retrieval targets: hidden layer to mean-pool")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.set_defaults(func=_cmd_cell)
    return parser


def _version() -> str:
    from raygrid import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``raygrid`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Library progress bars and load reports drown raygrid's own output.
    for name, value in (
        ("TOKENIZERS_PARALLELISM", "false"),
        ("HF_DATASETS_DISABLE_PROGRESS_BARS", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TRANSFORMERS_VERBOSITY", "error"),
    ):
        os.environ.setdefault(name, value)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except RaygridError as exc:
        print(f"raygrid: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("raygrid: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
