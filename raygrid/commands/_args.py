"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
import math

from raygrid.train.config import MAX_SEED


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= {low}")
    return value


def positive_int(text: str) -> int:
    return _int_at_least(text, 1)


def finite_float(text: str) -> float:
    """A number; 'inf' and 'nan', which ``float()`` reads, are refused."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_float(text: str) -> float:
    value = finite_float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


def unit_interval(text: str) -> float:
    """A number strictly between 0 and 1 (a significance level)."""
    value = finite_float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed 0 < value < 1")
    return value


def non_negative_int(text: str) -> int:
    return _int_at_least(text, 0)


def languages(text: str) -> tuple[str, ...]:
    langs = tuple(part.strip() for part in text.split(",") if part.strip())
    if not langs:
        raise argparse.ArgumentTypeError("give at least one language code, e.g. de,fr")
    return langs


def add_trust_remote_code(parser: argparse.ArgumentParser) -> None:
    """``--trust-remote-code``: the only way to let transformers run a model's
    own code (a spec may not: it travels with the sweep folder)."""
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="let transformers run the Python code that the model (hub repository or folder) ships; only for a "
        "model you trust. Not remembered by the sweep folder: give it again to `raygrid resume`",
    )


def seed(text: str) -> int:
    """A seed: an integer in [0, 2**32 - 1]."""
    value = non_negative_int(text)
    if value > MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed an integer in [0, {MAX_SEED}]")
    return value
