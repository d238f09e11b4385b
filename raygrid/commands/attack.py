"""``raygrid attack CHECKPOINT``: a checkpoint under attack, per language.

Usage:
    raygrid attack runs/cell/checkpoints/target-... --task xnli --languages de,ar,zh \
        --attacks char_noise,homoglyph --max-examples 200 --output runs/attack
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from raygrid.commands._args import languages, positive_int, seed
from raygrid.commands.cell import add_data_arguments, data_sources

DEFAULT_ATTACKS = ("char_noise", "diacritics", "homoglyph", "invisible")


def _names(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    if not names:
        raise argparse.ArgumentTypeError("give at least one attack name")
    return names


def register(sub: Any) -> None:
    p = sub.add_parser(
        "attack",
        help="evaluate a checkpoint under adversarial attacks, per language",
        description="Evaluate a raygrid checkpoint (written by `raygrid cell`) under attacks; prints a "
        "language x attack table and writes result rows (and per-example rows, clean and attacked) to OUTPUT/results.",
    )
    p.add_argument("checkpoint", metavar="CHECKPOINT")
    p.add_argument("--task", required=True, help="target task of the checkpoint")
    p.add_argument("--languages", type=languages, required=True, help="comma-separated languages")
    p.add_argument(
        "--attacks",
        type=_names,
        help=f"comma-separated attacks, NAME or NAME:mode (default: {','.join(DEFAULT_ATTACKS)}, "
        "skipping those a language does not support)",
    )
    p.add_argument("--max-examples", type=positive_int, help="examples per language (seeded subsample)")
    p.add_argument("--output", default="runs/attack", help="output directory (default: runs/attack)")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--split", choices=("dev", "test"), help="split attacked (default: test where it exists)")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    add_data_arguments(p)
    p.set_defaults(func=run)


def build_attacks(specs: tuple[str, ...]) -> list[Any]:
    """``NAME`` or ``NAME:MODE`` -> attacks."""
    from raygrid.attacks import get_attack

    out = []
    for spec in specs:
        name, _, mode = spec.partition(":")
        out.append(get_attack(name, mode=mode) if mode else get_attack(name))
    return out


def format_table(results: list[Any]) -> str:
    """language x attack: robust accuracy (success rate)."""
    labels = list(dict.fromkeys(r.attack for r in results))
    langs = list(dict.fromkeys(r.language for r in results))
    by = {(r.language, r.attack): r for r in results}
    width = max([8, *(len(label) for label in labels)])
    lines = ["language  clean   " + "  ".join(label.ljust(width) for label in labels)]
    for lang in langs:
        first = next(r for r in results if r.language == lang)
        cells = []
        for label in labels:
            r = by.get((lang, label))
            cells.append((f"{r.robust_accuracy:.3f} ({r.attack_success_rate:.2f})" if r else "n/a").ljust(width))
        lines.append(f"{lang:<8}  {first.clean_accuracy:.3f}   " + "  ".join(cells))
    lines.append("cells: accuracy under attack (attack success rate)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from raygrid.attacks.evaluate import example_frame, to_result_rows
    from raygrid.errors import ConfigError
    from raygrid.evaluate import check_languages, default_eval_split
    from raygrid.fileio import output_dir_problem
    from raygrid.formats import get_format
    from raygrid.layout import RESULTS_DIR
    from raygrid.models import checkpoint_task, is_checkpoint, load_tokenizer, load_trained
    from raygrid.store import write_run
    from raygrid.tasks import get_task
    from raygrid.tasks.types import Split
    from raygrid.unit import attack_key, eval_settings, phases

    task = get_task(args.task)
    langs = check_languages(task, args.languages)
    explicit = args.attacks is not None
    attacks = build_attacks(args.attacks or DEFAULT_ATTACKS)
    if not is_checkpoint(args.checkpoint):
        raise ConfigError(f"{args.checkpoint!r} is not a raygrid checkpoint (no raygrid.json); train one with `raygrid cell`")
    checkpoint_task(args.checkpoint, task)
    problem = output_dir_problem(args.output)
    if problem is not None:
        raise ConfigError(f"--output {args.output!r}: {problem}; allowed: a directory (created if missing)")
    sources = data_sources(args)
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = load_trained(args.checkpoint, get_format(task.format).head)
    tokenizer = load_tokenizer(args.checkpoint)
    out = Path(args.output)
    plan = []
    for language in langs:
        usable = []
        for attack in attacks:
            try:
                attack.check_language(language)
                usable.append(attack)
            except ConfigError as exc:
                if explicit:
                    raise
                print(f"[raygrid] skipping {attack.label} for {language}: {exc}", file=sys.stderr)
        split = Split(args.split) if args.split else default_eval_split(task, language)
        plan.append((language, split, usable))
    measured = phases.attacked_with_examples(
        model, tokenizer, task, plan, sources,
        settings=eval_settings(device=device), max_examples=args.max_examples, seed=args.seed,
        sample_dir=out / "samples",
    )  # fmt: skip
    results = measured.results
    run_key = attack_key(
        checkpoint=args.checkpoint,
        task=task.name,
        languages=langs,
        attacks=[a.label for a in attacks],
        seed=args.seed,
        max_examples=args.max_examples,
    )
    rows_out = []
    for split, r in results:
        rows_out.extend(
            to_result_rows([r], run_key=run_key, split=split.value, stage="attack", checkpoint=str(args.checkpoint), seed=args.seed)
        )
    examples = pd.concat(
        [example_frame(records, run_key=run_key, split=split.value, stage="attack", seed=args.seed)
         for split, records in measured.examples],
        ignore_index=True,
    )  # fmt: skip
    write_run(out / RESULTS_DIR, run_key, rows_out, meta={"checkpoint": str(args.checkpoint), "task": task.name},
              examples=examples)  # fmt: skip
    print(f"{task.name} under attack  (checkpoint {args.checkpoint}, run {run_key})")
    print(format_table([r for _, r in results]))
    print(f"results: {out / 'results'}; samples: {out / 'samples'}")
    return 0
