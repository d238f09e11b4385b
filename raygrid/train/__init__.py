"""Training of one phase, with or without Ray."""

from __future__ import annotations

from raygrid.train.config import Precision, TrainConfig

__all__ = ["Precision", "TrainConfig"]
