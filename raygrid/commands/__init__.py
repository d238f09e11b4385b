"""The subcommands of ``raygrid``: one module each, registered in order.

Each module defines ``register(subparsers)``, which adds its parser and sets
``func`` to a ``run(args) -> int``. Modules import only argparse-level code at
import time; heavy libraries are imported inside ``run``.
"""

from __future__ import annotations

#: Subcommand modules, in the order ``raygrid --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "raygrid.commands.tasks",
    "raygrid.commands.tiny_model",
    "raygrid.commands.world",
    "raygrid.commands.cell",
    "raygrid.commands.sweep",
    "raygrid.commands.perturb",
    "raygrid.commands.attack",
    "raygrid.commands.validate",
    "raygrid.commands.plan",
    "raygrid.commands.best",
    "raygrid.commands.analyze",
)
