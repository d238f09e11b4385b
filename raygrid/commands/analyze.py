"""``raygrid analyze``: statistics, figures and an HTML + Markdown report.

Uses the :mod:`analysis` package (pandas, scipy, matplotlib); imports
neither torch nor Ray.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from raygrid.commands._args import positive_int, seed, unit_interval


def register(sub: Any) -> None:
    p = sub.add_parser(
        "analyze",
        help="robustness analysis report of a sweep (HTML + Markdown)",
        description=(
            "Does intermediate-task training change robustness? Per target: conditional robust accuracy "
            "(1 - attack success rate on the examples right clean) against standard fine-tuning, paired on "
            "examples and seeds, per language and averaged over zero-shot languages, with intervals, Holm "
            "families and minimum detectable effects; the correlation of clean-transfer and robustness gains; "
            "figures; written as report.html, summary.md, CSV tables and findings.json."
        ),
    )
    p.add_argument("sweep_dir", metavar="DIR", help="a sweep directory (spec.yaml + results/), local or s3://")
    p.add_argument(
        "--out", type=Path,
        help="output folder, outside the sweep folder: reading a sweep never writes to it "
        "(default: DIR-report beside DIR; required for s3://)",
    )
    p.add_argument("--target", action="append", help="only this target (repeatable)")
    p.add_argument("--alpha", type=unit_interval, default=0.05, help="family-wise error rate (Holm)")
    p.add_argument(
        "--permutations", type=positive_int, default=2000,
        help="permutations of the correlation test when the exact test has more (default 2000)",
    )
    p.add_argument("--seed", type=seed, default=0, help="seed of the permutations")
    p.add_argument("--jobs", type=positive_int, default=None, help="processes for the per-target analyses (default: one per CPU)")
    p.set_defaults(func=run)


def default_out(sweep_dir: Path) -> Path:
    """``runs/demo`` -> ``runs/demo-report``: beside the sweep, never in it."""
    resolved = sweep_dir.resolve()
    return resolved.with_name(f"{resolved.name}-report")


def run(args: argparse.Namespace) -> int:
    from analysis.report import analyze
    from raygrid.errors import ConfigError

    from raygrid.storage import is_remote

    if args.out is None and is_remote(args.sweep_dir):
        raise ConfigError(f"--out: required for a sweep on object storage ({args.sweep_dir}); allowed: a local folder")
    out = args.out or default_out(Path(args.sweep_dir))
    inside = Path(args.sweep_dir).resolve()
    if not is_remote(args.sweep_dir) and (out.resolve() == inside or inside in out.resolve().parents):
        raise ConfigError(
            f"--out: {str(out)!r} is inside the sweep folder {args.sweep_dir}; allowed: a folder outside it "
            "(reading a sweep never writes to it), e.g. the default DIR-report"
        )
    report = analyze(
        args.sweep_dir, out, targets=args.target, alpha=args.alpha, n_perm=args.permutations, seed=args.seed,
        jobs=args.jobs,
    )
    for line in report.answer:
        print(line)
    print(f"wrote {report.html_path} and {report.markdown_path}")
    return 0
