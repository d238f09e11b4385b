"""``raygrid perturb``: fixed perturbations of stdin lines, to stdout.

Usage:
    echo "Das Wetter ist heute sonnig." | raygrid perturb --attack char_noise --language de --seed 1
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from raygrid.commands._args import seed

from raygrid.errors import ConfigError


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text!r}: allowed 0 < rate <= 1")
    return value


def register(sub: Any) -> None:
    p = sub.add_parser(
        "perturb",
        help="apply a fixed perturbation to each line of stdin",
        description="Read lines on stdin, write each line's seeded fixed perturbation on stdout "
        "(line i uses example key i). Attacks: char_noise, diacritics, homoglyph, invisible, code_switch.",
    )
    p.add_argument("--attack", required=True, help="attack name (fixed families only)")
    p.add_argument("--language", required=True, help="ISO 639-1 code of the input text")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--rate", type=_rate, help="fraction of words to perturb (default 0.2, at least one word)")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="recipe parameter, e.g. operation=alter (repeatable)"
    )
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {item!r}: expected KEY=VALUE")
        out[key.strip()] = value
    return out


def run(args: argparse.Namespace) -> int:
    from raygrid.attacks import ATTACK_NAMES, FIXED_ATTACK_NAMES, get_attack, parse_attack_params
    from raygrid.errors import one_of, unknown

    if args.attack not in ATTACK_NAMES:
        raise ConfigError(unknown("attack", args.attack, ATTACK_NAMES))
    if args.attack not in FIXED_ATTACK_NAMES:
        raise ConfigError(
            f"attack {args.attack!r} needs a model (adaptive or white-box); raygrid perturb runs {one_of(FIXED_ATTACK_NAMES)}"
        )
    params = parse_attack_params(args.attack, parse_params(args.param))
    if params.get("mode", "fixed") != "fixed":
        raise ConfigError("raygrid perturb runs fixed perturbations only; drop mode=")
    if args.rate is not None:
        params["rate"] = args.rate
    attack = get_attack(args.attack, **params)
    attack.check_language(args.language)
    out = sys.stdout
    for i, line in enumerate(sys.stdin):
        text = line.rstrip("\n")
        out.write(attack.perturb_text(text, args.language, seed=args.seed, key=i) + "\n")
    out.flush()
    return 0
