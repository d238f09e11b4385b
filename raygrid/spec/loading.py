"""Reading a spec: a safe YAML loader, source naming, and validation into a
:class:`~raygrid.spec.SweepSpec` (errors rendered as one line by
:mod:`raygrid.spec.messages`)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from raygrid.errors import ConfigError
from raygrid.spec.schema import SweepSpec, parse_spec


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-5`` as a float (YAML 1.1
    wants ``1.0e-5``: a learning rate written the usual way would be a
    string) and refuses duplicate keys (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor' may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "(file)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{source}: {where}: invalid YAML: {problem}; allowed: a YAML mapping of spec fields") from None


def load_spec(path: str | os.PathLike[str], *, written: bool = False) -> SweepSpec:
    """Reads and validates a sweep spec file (``written``: one raygrid wrote
    into a sweep folder; see :func:`raygrid.spec.parse_spec`).

    Raises:
        ConfigError: a missing or unreadable file, invalid YAML, or a bad
            spec (one line: file, field path, problem, what is allowed).

    Example:
        >>> spec = load_spec("search_spaces/demo.yaml")  # doctest: +SKIP
        >>> spec.name  # doctest: +SKIP
        'demo'
    """
    source = str(path)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: no such file; allowed: a YAML sweep spec such as search_spaces/demo.yaml") from None
    except IsADirectoryError:
        raise ConfigError(f"{source}: is a directory; allowed: a YAML sweep spec file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: not UTF-8 text ({exc.reason}); allowed: a UTF-8 YAML file") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read ({exc.strerror}); allowed: a readable file") from None
    return parse_spec(_read_yaml(text, source), source=source, written=written)


def parse_spec_text(text: str, *, source: str, written: bool = False) -> SweepSpec:
    """:func:`load_spec` of a spec already read (e.g. from S3); ``source``
    names it in errors."""
    return parse_spec(_read_yaml(text, source), source=source, written=written)



__all__ = ["load_spec", "parse_spec", "parse_spec_text"]
