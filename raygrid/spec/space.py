"""Search spaces: a fixed value or an Optuna distribution per hyper-parameter.

The hyper-parameters are the searchable rows of :mod:`raygrid.hparams`;
:class:`StageSpace` has one field per row, generated from the table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional, Union

from pydantic import Discriminator, Field, Tag, create_model

from raygrid.hparams import SEARCHABLE
from raygrid.hparams import problem as param_problem
from raygrid.spec.base import StrictModel

Scalar = Union[bool, int, float, str]


class DistributionBase(StrictModel):
    """An Optuna distribution (checked by :class:`SweepSpec`'s validator)."""

    def to_optuna(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def grid_values(self) -> tuple[Scalar, ...] | None:
        """Every value, for the grid sampler; ``None`` if continuous."""
        return None


class FloatDistribution(DistributionBase):
    """``{type: float, low, high, log: false, step: null}``: uniform (log-uniform
    with ``log: true``) over [low, high], optionally discretised by ``step``."""

    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    step: float | None = None

    def to_optuna(self) -> Any:
        from optuna.distributions import FloatDistribution as OptunaFloat

        return OptunaFloat(self.low, self.high, log=self.log, step=self.step)

    def grid_values(self) -> tuple[Scalar, ...] | None:
        if self.step is None:
            return None
        count = int(round((self.high - self.low) / self.step)) + 1
        return tuple(self.low + i * self.step for i in range(count) if self.low + i * self.step <= self.high + 1e-12)


class IntDistribution(DistributionBase):
    """``{type: int, low, high, log: false, step: 1}``: integers in [low, high]."""

    type: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False
    step: int = 1

    def to_optuna(self) -> Any:
        from optuna.distributions import IntDistribution as OptunaInt

        return OptunaInt(self.low, self.high, log=self.log, step=self.step)

    def grid_values(self) -> tuple[Scalar, ...] | None:
        return tuple(range(self.low, self.high + 1, self.step))


class CategoricalDistribution(DistributionBase):
    """``{type: categorical, choices: [...]}``: one of the choices."""

    type: Literal["categorical"] = "categorical"
    choices: tuple[Scalar, ...]

    def to_optuna(self) -> Any:
        from optuna.distributions import CategoricalDistribution as OptunaCategorical

        return OptunaCategorical(self.choices)

    def grid_values(self) -> tuple[Scalar, ...] | None:
        return self.choices


Distribution = Union[FloatDistribution, IntDistribution, CategoricalDistribution]
DISTRIBUTION_TYPES = ("float", "int", "categorical")


def _param_tag(value: Any) -> str | None:
    if isinstance(value, DistributionBase):
        return value.type  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        tag = value.get("type")
        return tag if tag in DISTRIBUTION_TYPES else None
    if isinstance(value, (bool, int, float, str)):
        return "fixed"
    return None


PARAM_ALLOWED = "a fixed value or a distribution {type: float|int|categorical, ...}"

#: One hyper-parameter: a fixed value or a distribution (tagged by ``type``).
Param = Annotated[
    Union[
        Annotated[FloatDistribution, Tag("float")],
        Annotated[IntDistribution, Tag("int")],
        Annotated[CategoricalDistribution, Tag("categorical")],
        Annotated[Scalar, Tag("fixed")],
    ],
    Discriminator(
        _param_tag,
        custom_error_type="param_value",
        custom_error_message="neither a fixed value nor a distribution with a known 'type'",
    ),
]


class _StageSpaceBase(StrictModel):
    """The search space of one stage: each field a fixed value, a distribution,
    or ``None`` (keep the task's default). Field names are the searchable
    rows of :mod:`raygrid.hparams` (those of :class:`raygrid.cell.Overrides`)."""

    def params(self) -> dict[str, Scalar | Distribution]:
        """The hyper-parameters this space sets (fixed or searched)."""
        return {name: value for name, value in self if value is not None}

    def fixed(self) -> dict[str, Scalar]:
        """Hyper-parameters with a fixed value."""
        return {n: v for n, v in self.params().items() if not isinstance(v, DistributionBase)}

    def distributions(self) -> dict[str, Distribution]:
        """Hyper-parameters that are searched."""
        return {n: v for n, v in self.params().items() if isinstance(v, DistributionBase)}

    def to_optuna(self) -> dict[str, Any]:
        """Optuna distributions for ``study.ask(...)`` (imports optuna)."""
        return {name: dist.to_optuna() for name, dist in self.distributions().items()}

    def overlay(self, other: StageSpace | None) -> StageSpace:
        """This space with every hyper-parameter ``other`` sets replaced."""
        if other is None or not other.params():
            return self
        return StageSpace.model_validate({**self.params(), **other.params()})

    def to_json(self) -> dict[str, Any]:
        """The set hyper-parameters as plain JSON (what cell keys hash)."""
        return self.model_dump(mode="json", exclude_none=True)


if TYPE_CHECKING:  # pragma: no cover - the fields are the table's, generated below
    StageSpace = _StageSpaceBase
else:
    #: The search space of one stage: one field per searchable row of
    #: :mod:`raygrid.hparams` (a fixed value, a distribution, or ``None``:
    #: keep the task's default).
    StageSpace = create_model(
        "StageSpace",
        __base__=_StageSpaceBase,
        __module__=__name__,
        **{name: (Optional[Param], None) for name in SEARCHABLE},  # type: ignore[call-overload]
    )
    StageSpace.__doc__ = _StageSpaceBase.__doc__

#: The searchable hyper-parameters: ``(kind, check, allowed)``, from the
#: table (raygrid.hparams), checked here so a bad spec fails at load.
PARAMS: Mapping[str, tuple[str, Any, str]] = {
    name: (row.kind.__name__, lambda v, row=row: row.check(v, {}), row.allowed) for name, row in SEARCHABLE.items()
}


class SearchSpace(StrictModel):
    """A search space per stage, plus overlays for single cells.

    Attributes:
        intermediate: the space of every intermediate cell.
        target: the space of every (trainable) target cell.
        per_task: intermediate entry (``mnli``, ``all``, ``a+b``) or target
            task (``udpos``) -> a space overlaid on that entry's or task's cells.
    """

    intermediate: StageSpace = Field(default_factory=StageSpace)
    target: StageSpace = Field(default_factory=StageSpace)
    per_task: dict[str, StageSpace] = Field(default_factory=dict)


__all__ = [
    "DISTRIBUTION_TYPES",
    "DistributionBase",
    "PARAMS",
    "PARAM_ALLOWED",
    "CategoricalDistribution",
    "Distribution",
    "FloatDistribution",
    "IntDistribution",
    "Param",
    "Scalar",
    "SearchSpace",
    "StageSpace",
    "param_problem",
]
