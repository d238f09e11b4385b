"""raygrid: transfer-grid search for English intermediate-task training vs.
adversarial robustness in non-English languages.

Importing :mod:`raygrid` is cheap: it pulls in neither torch nor ray. Heavy
modules (models, training, evaluation, the sweep) are imported where used.
"""

from __future__ import annotations

from raygrid.errors import RaygridError

__version__ = "0.1.0"

#: Bumped whenever a change alters what a unit of work computes or how its
#: results are laid out; it is part of every run key.
SCHEMA_VERSION = 1

__all__ = ["RaygridError", "SCHEMA_VERSION", "__version__", "best_config"]


def __getattr__(name: str) -> object:
    # Lazy: ``raygrid.best_config`` lives in raygrid.query (pandas, pyarrow).
    if name == "best_config":
        from raygrid.query import best_config

        return best_config
    raise AttributeError(f"module 'raygrid' has no attribute {name!r}")
