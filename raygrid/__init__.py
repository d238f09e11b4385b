"""raygrid: transfer-grid search for English intermediate-task training vs.
adversarial robustness in non-English languages.

Importing :mod:`raygrid` is cheap: it pulls in neither torch nor ray. Heavy
modules (models, training, evaluation, the sweep) are imported where used.
"""

from __future__ import annotations

from raygrid.errors import RaygridError
from raygrid.version import SCHEMA_VERSION, __version__

__all__ = ["RaygridError", "SCHEMA_VERSION", "__version__", "best_config"]


def __getattr__(name: str) -> object:
    # Lazy: ``raygrid.best_config`` lives in raygrid.query (pandas, pyarrow).
    if name == "best_config":
        from raygrid.query import best_config

        return best_config
    raise AttributeError(f"module 'raygrid' has no attribute {name!r}")
