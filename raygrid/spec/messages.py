"""A pydantic ``ValidationError`` as one line: ``<field.path>: <problem>;
allowed: <what is allowed>``, naming the bad value.

Pydantic's own messages name neither the allowed values nor a spec's
field path (union tags, tuples and dicts in between); :func:`one_line`
walks the model's annotations along the error's location to say both.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError

from raygrid.errors import did_you_mean, one_of
from raygrid.spec.base import Invalid
from raygrid.spec.space import PARAM_ALLOWED


def yaml_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "mapping"
    return type(value).__name__


def _strip(annotation: Any) -> Any:
    """``Annotated[X, ...]`` -> X; ``X | None`` -> X (other unions stay)."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _tags(annotation: Any) -> dict[str, Any]:
    """A tagged union's members by tag (empty for anything else)."""
    out: dict[str, Any] = {}
    if get_origin(annotation) not in (Union, types.UnionType):
        return out
    for member in get_args(annotation):
        if get_origin(member) is Annotated:
            for meta in get_args(member)[1:]:
                if isinstance(meta, Tag):
                    out[meta.tag] = get_args(member)[0]
    return out


def _walk(loc: Sequence[str | int], root: type[BaseModel]) -> tuple[str, Any]:
    """The dotted path of a pydantic ``loc`` below ``root`` (union tags
    dropped, list indices as ``[i]``) and the annotation found there
    (``None`` if unknown)."""
    path = ""
    annotation: Any = root
    for part in loc:
        current = _strip(annotation)
        tags = _tags(current)
        if isinstance(part, str) and part in tags:  # a tagged union's member: not a field
            annotation = tags[part]
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        annotation = _child(current, part)
    return path, annotation


def _child(annotation: Any, part: str | int) -> Any:
    if annotation is None:
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return None if field is None else _with_metadata(field.annotation, field.metadata)
    origin = get_origin(annotation)
    if origin is dict:
        return get_args(annotation)[1]
    if origin in (list, tuple):
        return get_args(annotation)[0]
    return None


def _with_metadata(annotation: Any, metadata: list[Any]) -> Any:
    # Pydantic moves a field's Annotated metadata (the Param discriminator) off
    # the annotation; put it back so the walker can see tags.
    return Annotated[(annotation, *metadata)] if metadata else annotation


def _describe(annotation: Any) -> str:
    """What a field accepts, in words, for the ``allowed:`` part."""
    if annotation is None:
        return "see raygrid.spec"
    stripped = _strip(annotation)
    if _tags(stripped):  # a hyper-parameter (the only tagged union)
        return PARAM_ALLOWED
    nullable = stripped is not annotation and type(None) in get_args(annotation)
    origin = get_origin(stripped)
    if origin is Literal:
        text = one_of(get_args(stripped))
    elif isinstance(stripped, type) and issubclass(stripped, Enum):
        text = one_of(member.value for member in stripped)
    elif stripped is bool:
        text = "true or false"
    elif stripped is int:
        text = "an integer"
    elif stripped is float:
        text = "a number"
    elif stripped is str:
        text = "a string"
    elif origin in (list, tuple):
        item = _describe(get_args(stripped)[0])
        plural = {"an integer": "integers", "a number": "numbers", "a string": "strings"}
        if item.startswith("a mapping"):
            text = "a list of mappings" + item.removeprefix("a mapping")
        else:
            text = f"a list of {plural[item]}" if item in plural else f"a list, each {item}"
    elif origin is dict:
        text = "a mapping"
    elif isinstance(stripped, type) and issubclass(stripped, BaseModel):
        text = f"a mapping with keys {one_of(stripped.model_fields)}"
    elif origin in (Union, types.UnionType):
        text = " or ".join(_describe(member) for member in get_args(stripped))
    else:
        text = "a JSON-like value"
    return f"{text} or null" if nullable else text


def one_line(exc: ValidationError, root: type[BaseModel]) -> str:
    """``<field.path>: <problem>; allowed: <...>`` for the first error of
    validating ``root`` (paths are relative to it)."""
    error = exc.errors()[0]
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, Invalid):
        path, _ = _walk(loc + cause.path, root)
        message = f"{path or '(top level)'}: {cause.problem}; allowed: {cause.allowed or 'see raygrid.spec'}"
        return message + (did_you_mean(*cause.guess) if cause.guess else "")
    if kind == "unknown_key":
        path, _ = _walk((*loc, str(ctx["key"])), root)
        return f"{path}: unknown key; allowed: {one_of(ctx['allowed'])}" + did_you_mean(str(ctx["key"]), ctx["allowed"])
    path, annotation = _walk(loc, root)
    path = path or "(top level)"
    if kind == "missing":
        return f"{path}: required field is missing; allowed: {_describe(annotation)}"
    if kind == "param_value":
        return f"{path}: bad value {short(value)}: {error['msg']}; allowed: {PARAM_ALLOWED}"
    if kind in ("enum", "literal_error"):
        return f"{path}: bad value {short(value)}; allowed: {_describe(annotation)}"
    message = error["msg"].replace("a valid tuple", "a list").replace("valid dictionary", "mapping")
    message = message[:1].lower() + message[1:]
    return f"{path}: bad value {short(value)} ({message}); allowed: {_describe(annotation)}"


def short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."



__all__ = ["one_line", "short", "yaml_type"]
