"""The attack registry: name -> recipe, and the checks on a recipe's parameters.

:mod:`raygrid.attacks` re-exports everything here; modules inside the
package import it from here, so that none of them imports the package
itself (whose lazy evaluation API imports them back).

Example:
    >>> get_attack("embedding_pgd").edits.value
    'embeddings'
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from raygrid.attacks.attack import Attack
from raygrid.errors import ConfigError, one_of, unknown

# name -> "module:factory"; the single place attacks are registered.
_REGISTRY: dict[str, str] = {
    "char_noise": "raygrid.attacks.recipes:char_noise",
    "diacritics": "raygrid.attacks.recipes:diacritics",
    "homoglyph": "raygrid.attacks.recipes:homoglyph",
    "invisible": "raygrid.attacks.recipes:invisible",
    "code_switch": "raygrid.attacks.recipes:code_switch",
    "mlm_substitute": "raygrid.attacks.recipes:mlm_substitute",
    "hotflip": "raygrid.attacks.recipes:hotflip",
    "embedding_pgd": "raygrid.attacks.recipes:embedding_pgd",
}

#: Every registered attack name.
ATTACK_NAMES: tuple[str, ...] = tuple(_REGISTRY)

#: Attacks that perturb text without a model (``raygrid perturb`` runs them).
FIXED_ATTACK_NAMES: tuple[str, ...] = ("char_noise", "diacritics", "homoglyph", "invisible", "code_switch")


def _factory(name: str) -> Any:
    if name not in _REGISTRY:
        raise ConfigError(unknown("attack", name, ATTACK_NAMES))
    module, attr = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), attr)


def get_attack(name: str, **params: Any) -> Attack:
    """The attack registered as ``name``, built with ``params``.

    Every value is checked against the type the recipe declares for it (its
    annotation) before the recipe runs, so a spec's ``ops: [1, 2]`` or
    ``rate: .inf`` fails here, at load, with one line, not as a TypeError
    deep in a confirm run.

    Raises:
        ConfigError: unknown name (the message lists the valid ones), unknown
            parameter (lists the recipe's), a value of the wrong type or not
            finite, or a bad value.
    """
    factory = _factory(name)
    declared = _declared(name, factory, given=params)
    for key, value in params.items():
        _check_value(name, key, value, declared[key])
    attack: Attack = factory(**params)
    return attack


def parse_attack_params(name: str, texts: Mapping[str, str]) -> dict[str, Any]:
    """Parameters given as text (``raygrid perturb --param rate=0.5``), each
    converted to the type its recipe declares: an integer where it takes
    one, else a finite number, else the text itself.

    Raises:
        ConfigError: unknown name or parameter, or text that is none of the
            declared types.
    """
    declared = _declared(name, _factory(name), given=texts)
    out: dict[str, Any] = {}
    for key, text in texts.items():
        kinds = _kinds(declared[key])
        if int in kinds and _INTEGER.fullmatch(text.strip()):
            out[key] = int(text)
        elif float in kinds and _is_finite_text(text):
            out[key] = float(text)
        elif str in kinds:
            out[key] = text
        else:
            raise ConfigError(f"attack {name!r}: parameter {key!r} has bad value {text!r}; allowed: {_describe(kinds)}")
    return out


_INTEGER = re.compile(r"[+-]?[0-9]+")


def _is_finite_text(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _declared(name: str, factory: Any, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The recipe's parameters and their annotations; refuses a name in
    ``given`` that the recipe does not take."""
    declared = _signature(factory)
    return declared if given is None else _known(name, declared, given)


@functools.cache
def _signature(factory: Any) -> dict[str, Any]:
    # get_type_hints evaluates the annotations (strings here): once per recipe
    hints = typing.get_type_hints(factory)
    return {key: hints.get(key, Any) for key in inspect.signature(factory).parameters}


def _known(name: str, declared: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    bad = sorted(set(given) - set(declared))
    if bad:
        raise ConfigError(f"attack {name!r}: unknown parameter {bad[0]!r}; allowed: {one_of(declared)}")
    return declared


def _kinds(annotation: Any) -> tuple[Any, ...]:
    """``str | list[str] | None`` -> ``(str, list, NoneType)``."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    return tuple(typing.get_origin(m) or m for m in members)


def _describe(kinds: tuple[Any, ...]) -> str:
    words = {str: "a string", int: "an integer", float: "a finite number", list: "a list of strings", type(None): "null"}
    return " or ".join(words.get(k, str(k)) for k in kinds)


def _printable(text: str) -> bool:
    # a control character (a pasted newline) is never meant in a recipe parameter
    return not any(ch < " " or ch == "\x7f" for ch in text)


def _check_value(name: str, key: str, value: Any, annotation: Any) -> None:
    kinds = _kinds(annotation)
    if Any in kinds:
        return
    texts = value if isinstance(value, list) else [value]
    if any(isinstance(text, str) and not _printable(text) for text in texts):
        raise ConfigError(f"attack {name!r}: parameter {key!r} has bad value {value!r}: a control character; allowed: printable text")
    if value is None:
        ok = type(None) in kinds
    elif isinstance(value, bool):  # a bool is an int to Python, never to a recipe
        ok = bool in kinds
    elif isinstance(value, int):
        ok = int in kinds or float in kinds
    elif isinstance(value, float):
        ok = float in kinds and math.isfinite(value)
    elif isinstance(value, str):
        ok = str in kinds
    elif isinstance(value, list):
        ok = list in kinds and all(isinstance(item, str) for item in value)
    else:
        ok = False
    if not ok:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise ConfigError(f"attack {name!r}: parameter {key!r} has bad value {shown}; allowed: {_describe(kinds)}")


def attack_parameters(name: str) -> tuple[str, ...]:
    """The parameters the recipe of ``name`` accepts."""
    return tuple(inspect.signature(_factory(name)).parameters)


__all__ = ["ATTACK_NAMES", "FIXED_ATTACK_NAMES", "attack_parameters", "get_attack", "parse_attack_params"]
