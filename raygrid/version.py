"""raygrid's version and the schema version of what it computes and writes.

A leaf module: :mod:`raygrid` re-exports both, and modules the package's
lazy ``raygrid.best_config`` reaches (the results store) import them from
here, so that none of them imports the package root back.

Example:
    >>> SCHEMA_VERSION >= 1
    True
"""

from __future__ import annotations

__version__ = "0.1.0"

#: Bumped whenever a change alters what a unit of work computes or how its
#: results are laid out; it is part of every run key.
SCHEMA_VERSION = 1

__all__ = ["SCHEMA_VERSION", "__version__"]
