"""The errors raygrid raises for bad input.

Every user-facing mistake (an unknown task, a missing column, an unreadable
model path, ...) is a :class:`RaygridError` whose message is one line naming
the thing, the bad value and what is allowed. The CLI prints it as
``raygrid: error: <message>`` and exits with status 2, without a traceback.
"""

from __future__ import annotations

from collections.abc import Iterable


class RaygridError(Exception):
    """A user-facing error: one line, no traceback needed."""


class ConfigError(RaygridError):
    """A spec, option or argument has a bad value."""


class DataError(RaygridError):
    """A data source is missing, empty or malformed."""


class ModelError(RaygridError):
    """A model or checkpoint cannot be loaded."""


def one_of(values: Iterable[object]) -> str:
    """Formats allowed values for an error message: ``'a', 'b' or 'c'``."""
    items = [repr(str(v)) for v in values]
    if not items:
        return "(none)"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " or " + items[-1]


def unknown(kind: str, value: object, allowed: Iterable[object]) -> str:
    """The standard 'unknown X' message: ``unknown task 'foo'; allowed: 'a' or 'b'``.

    A close spelling among the allowed values is suggested at the end
    (``...; did you mean 'mnli'?``).
    """
    names = sorted(str(a) for a in allowed)
    return f"unknown {kind} {str(value)!r}; allowed: {one_of(names)}" + did_you_mean(value, names)


def did_you_mean(value: object, allowed: Iterable[object]) -> str:
    """``"; did you mean 'mnli'?"`` for the closest allowed spelling, ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(str(value), sorted(str(a) for a in allowed), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
