"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be > 0")
    return value


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
