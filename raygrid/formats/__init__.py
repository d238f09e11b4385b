"""Task formats: one module each, resolved lazily by name.

Example:
    >>> from raygrid.formats import get_format
    >>> get_format("classification").head.value
    'sequence_classification'
"""

from __future__ import annotations

import importlib

from raygrid.errors import ConfigError, unknown
from raygrid.formats.base import EncodeSettings, EvalSettings, Format, HeadKind
from raygrid.tasks.types import FormatName

# name -> "module:attribute"; modules import torch, so they load on first use.
_REGISTRY: dict[FormatName, str] = {
    FormatName.CLASSIFICATION: "raygrid.formats.classification:FORMAT",
    FormatName.MULTIPLE_CHOICE: "raygrid.formats.multiple_choice:FORMAT",
    FormatName.SPAN_QA: "raygrid.formats.span_qa:FORMAT",
    FormatName.TAGGING: "raygrid.formats.tagging:FORMAT",
    FormatName.RETRIEVAL: "raygrid.formats.retrieval:FORMAT",
}


def get_format(name: FormatName | str) -> Format:
    """The format object registered under ``name``."""
    try:
        key = FormatName(name)
    except ValueError:
        raise ConfigError(unknown("format", name, [f.value for f in FormatName])) from None
    module, attr = _REGISTRY[key].split(":")
    fmt: Format = getattr(importlib.import_module(module), attr)
    return fmt


__all__ = ["EncodeSettings", "EvalSettings", "Format", "HeadKind", "get_format"]
