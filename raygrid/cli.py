"""The ``raygrid`` command. Thin: parses, calls the API, prints.

Start-up stays fast: this module and :mod:`raygrid.commands` import neither
torch nor ray nor transformers; each subcommand imports what it needs when it
runs. Subcommands live one per module in :mod:`raygrid.commands`.

Usage:
    raygrid tasks [--json]
    raygrid tiny-model OUT_DIR
    raygrid cell --model PATH_OR_ID --intermediate TASK|none|all --target TASK [options]
    raygrid validate SPEC [--json]
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from raygrid.errors import RaygridError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors read like every other bad input:
    one line ``raygrid: error: ...``, exit 2 (argparse's own prints the usage
    block first). Subcommand parsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"raygrid: error: {self.prog}: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from raygrid import __version__
    from raygrid.commands import COMMANDS

    parser = _Parser(
        prog="raygrid",
        description=(
            "Transfer-grid search for English intermediate-task training (X-STILTs) "
            "and its effect on adversarial robustness in non-English languages."
        ),
    )
    parser.add_argument("--version", action="version", version=f"raygrid {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        importlib.import_module(module).register(sub)
    return parser


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
