"""Validation plumbing shared by the spec's models and checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError


class Invalid(ValueError):
    """A cross-field check failed at ``path`` (relative to the model that raised)."""

    def __init__(
        self,
        path: Sequence[str | int],
        problem: str,
        allowed: str | None = None,
        *,
        guess: tuple[str, Iterable[str]] | None = None,
    ) -> None:
        super().__init__(problem)
        self.path = tuple(path)
        self.problem = problem
        self.allowed = allowed
        self.guess = guess  # (the bad name, the valid names): the message suggests a close spelling


class StrictModel(BaseModel):
    """Immutable, strict about keys: an unknown key names the allowed ones."""

    # allow_inf_nan: pydantic would read 'inf' / 'nan' (strings too) as floats.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # Pydantic's own extra_forbidden error does not say what is allowed.
        if isinstance(data, Mapping):
            for key in data:
                if key not in cls.model_fields:
                    raise PydanticCustomError(
                        "unknown_key", "unknown key {key}", {"key": key, "allowed": tuple(cls.model_fields)}
                    )
        return data


__all__ = ["Invalid", "StrictModel"]
