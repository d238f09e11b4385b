"""Stable keys for units of work.

A key is a short hash of everything that determines a unit of work (model,
tasks, hyper-parameters, seed, data caps and sources, raygrid's schema
version). The same inputs give the same key on every machine and Python
version; any change gives another key, so finished work is never reused for
a different question and never recomputed for the same one.

Example:
    >>> stable_key({"b": 1, "a": [1, 2]}) == stable_key({"a": [1, 2], "b": 1})
    True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from enum import Enum
from pathlib import PurePath
from typing import Any

KEY_LENGTH = 16  # hex digits: 64 bits, collision-free for any realistic sweep


def _default(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    raise TypeError(f"cannot key a {type(value).__name__}")


def canonical_json(payload: Mapping[str, Any]) -> str:
    """Sorted-key, compact JSON: the text a key is the hash of."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_default, ensure_ascii=False)


def stable_key(payload: Mapping[str, Any]) -> str:
    """The key of a unit of work described by ``payload``."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:KEY_LENGTH]
