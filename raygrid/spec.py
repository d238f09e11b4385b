"""The sweep spec: one YAML file, parsed once into validated, immutable objects.

A sweep spec (``search_spaces/NAME.yaml``) says everything a sweep needs:
the pretrained model, the data, the grid (intermediate entries x target
tasks and their languages), a search space per stage, the trials per cell,
the Optuna sampler and pruner, the confirm stage's seeds, the resources of
one trial, where results go, and the attack suite. :func:`load_spec` reads it
with a safe YAML loader and validates it into a :class:`SweepSpec`; nothing
else in raygrid reads raw dicts. YAML keys equal field names; names carry
their units (``max_seq_length``, ``warmup_ratio``).

Every mistake is a one-line :class:`~raygrid.errors.ConfigError`::

    <file>: <field.path>: <problem>; allowed: <what is allowed>

e.g. ``demo.yaml: targets[1].languages[0]: unknown language 'xx' for task
'pawsx'; allowed: 'de', 'en', ...``. Checks that need the filesystem (is the
storage writable?) are separate, in :func:`check_storage`, so that loading a
spec never touches the disk beyond reading it.

The grid
    ``intermediates`` lists intermediate entries: ``none`` (the standard
    fine-tuning baseline: no phase 2), a task (``mnli``), ``all`` (one
    multi-task cell over every intermediate task of the catalogue) or a
    mixture ``a+b`` (multi-task over those). ``targets`` lists XTREME tasks,
    each with the languages it is evaluated in (default: all of the task's).
    :func:`raygrid.grid.expand` turns this into cells.

Search spaces
    ``search_space.intermediate`` and ``search_space.target`` map
    hyper-parameter names (the fields of :class:`raygrid.cell.Overrides`,
    which are :class:`~raygrid.train.config.TrainConfig`'s) to a fixed value
    or an Optuna distribution::

        learning_rate: {type: float, low: 1.0e-5, high: 1.0e-4, log: true}
        num_epochs: {type: int, low: 1, high: 3}
        batch_size: {type: categorical, choices: [16, 32]}
        max_seq_length: 128

    A hyper-parameter that is not named keeps the task's default (jiant's
    X-STILTs values, :attr:`raygrid.tasks.TaskSpec.defaults`).
    ``search_space.per_task`` overlays a space on the cells of one
    intermediate entry or one target task (e.g. more epochs for UD-POS).

Early stopping
    An Optuna pruner per cell study: ``median`` (Optuna's ``MedianPruner``)
    or ``successive_halving`` (``SuccessiveHalvingPruner``, asynchronous
    successive halving as in ASHA). Each cell has its own study, so a trial is
    only ever compared with trials of the same cell: a shared scheduler would
    compare losses of different tasks (see DESIGN.md). The resource is the
    number of English-dev evaluations reported (``evals_per_epoch`` per epoch).

Example:
    >>> spec = load_spec("search_spaces/demo.yaml")  # doctest: +SKIP
    >>> spec.targets[0].task, spec.n_trials.target  # doctest: +SKIP
    ('xnli', 3)
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import types
from collections.abc import Iterable, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    PrivateAttr,
    Tag,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from raygrid.errors import ConfigError, did_you_mean, one_of
from raygrid.keys import stable_key
from raygrid.train.config import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_EVALS_PER_EPOCH, MAX_SEED

#: The baseline entry: no intermediate training (standard fine-tuning).
NONE = "none"
#: One multi-task cell over every intermediate task of the catalogue.
ALL = "all"
#: Separates the tasks of a multi-task mixture entry (``mnli+squad_v2``).
MIXTURE_SEPARATOR = "+"

#: Fields that say where and how wide a sweep runs, not what it computes:
#: left out of :meth:`SweepSpec.fingerprint` (resume may change them, e.g. to
#: move a sweep onto a bigger cluster) and out of every cell key.
#: ``checkpoints`` is one of them: which checkpoints are kept once a cell is
#: done changes the disk a sweep holds, never a trial, a selection or a
#: result row. So a spec that differs only there is not refused as another
#: sweep, and every folder started before the field existed keeps its
#: fingerprint (and resumes under the default, ``best``). As for the other
#: runtime fields, the writer applies the value of the folder's sweep.json.
RUNTIME_FIELDS = ("name", "storage", "resources", "max_concurrent_trials", "max_failures", "checkpoints")

_MAX_SEED = MAX_SEED
#: Limits on sizes no real sweep reaches: a typo (``1000000000000``) fails at
#: load instead of planning a study that never ends.
MAX_TRIALS_PER_CELL = 100_000
MAX_CONFIRM_SEEDS = 1_000
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_ATTACK_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Bucket names per the S3 naming rules (3-63 characters, lower case, digits, '.', '-').
_S3_PATTERN = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<prefix>.*))?$")


class Stage(str, Enum):
    """The stages of a sweep, in the order they run."""

    INTERMEDIATE = "intermediate"  # phase 2: HPO on the intermediate task's English dev set
    TARGET = "target"  # phase 3: HPO on the target's English dev set (zero-shot protocol)
    CONFIRM = "confirm"  # the best target config retrained per seed, evaluated per language


class DataSource(str, Enum):
    """Where task data comes from (local directories take precedence over both)."""

    HUB = "hub"  # the Hugging Face hub
    BUNDLED = "bundled"  # the small fixtures shipped in raygrid/data/fixtures (tests, demo)


class SamplerType(str, Enum):
    """The Optuna sampler of each cell's study."""

    TPE = "tpe"
    RANDOM = "random"
    GRID = "grid"  # every distribution must be enumerable (int, stepped float, categorical)


class PrunerType(str, Enum):
    """Early stopping within one cell's study."""

    NONE = "none"
    MEDIAN = "median"
    SUCCESSIVE_HALVING = "successive_halving"


class CheckpointKeep(str, Enum):
    """Which trial checkpoints a sweep keeps once their cell is done."""

    BEST = "best"  # the best trial's of each cell, and every confirm run's (raygrid.sweep.retention)
    ALL = "all"  # every trial's


class Direction(str, Enum):
    """Whether the objective is maximised or minimised."""

    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


# -- validation plumbing ---------------------------------------------------------


class _Invalid(ValueError):
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


class _Model(BaseModel):
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


# -- search spaces -----------------------------------------------------------------

Scalar = Union[bool, int, float, str]


class _Distribution(_Model):
    """An Optuna distribution (checked by :class:`SweepSpec`'s validator)."""

    def to_optuna(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def grid_values(self) -> tuple[Scalar, ...] | None:
        """Every value, for the grid sampler; ``None`` if continuous."""
        return None


class FloatDistribution(_Distribution):
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


class IntDistribution(_Distribution):
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


class CategoricalDistribution(_Distribution):
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
    if isinstance(value, _Distribution):
        return value.type  # type: ignore[attr-defined, no-any-return]
    if isinstance(value, Mapping):
        tag = value.get("type")
        return tag if tag in DISTRIBUTION_TYPES else None
    if isinstance(value, (bool, int, float, str)):
        return "fixed"
    return None


_PARAM_ALLOWED = "a fixed value or a distribution {type: float|int|categorical, ...}"

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


class StageSpace(_Model):
    """The search space of one stage: each field a fixed value, a distribution,
    or ``None`` (keep the task's default). Field names are exactly those of
    :class:`raygrid.cell.Overrides`."""

    learning_rate: Param | None = None
    num_epochs: Param | None = None
    batch_size: Param | None = None
    grad_accumulation_steps: Param | None = None
    max_seq_length: Param | None = None
    warmup_ratio: Param | None = None
    weight_decay: Param | None = None
    evals_per_epoch: Param | None = None

    def params(self) -> dict[str, Scalar | Distribution]:
        """The hyper-parameters this space sets (fixed or searched)."""
        return {name: value for name, value in self if value is not None}

    def fixed(self) -> dict[str, Scalar]:
        """Hyper-parameters with a fixed value."""
        return {n: v for n, v in self.params().items() if not isinstance(v, _Distribution)}

    def distributions(self) -> dict[str, Distribution]:
        """Hyper-parameters that are searched."""
        return {n: v for n, v in self.params().items() if isinstance(v, _Distribution)}

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


#: The searchable hyper-parameters: ``(kind, check, allowed)``. The bounds are
#: TrainConfig's (raygrid.train.config), checked here so a bad spec fails at load.
PARAMS: Mapping[str, tuple[str, Any, str]] = {
    "learning_rate": ("float", lambda v: v > 0, "a number > 0"),
    "num_epochs": ("float", lambda v: 0 < v <= MAX_EPOCHS, f"a number > 0 and <= {MAX_EPOCHS}"),
    "batch_size": ("int", lambda v: 1 <= v <= MAX_BATCH_SIZE, f"an integer >= 1 and <= {MAX_BATCH_SIZE}"),
    "grad_accumulation_steps": ("int", lambda v: 1 <= v <= MAX_BATCH_SIZE, f"an integer >= 1 and <= {MAX_BATCH_SIZE}"),
    "max_seq_length": ("int", lambda v: 8 <= v <= 4096, "an integer in [8, 4096]"),
    "warmup_ratio": ("float", lambda v: 0 <= v < 1, "a number in [0, 1)"),
    "weight_decay": ("float", lambda v: v >= 0, "a number >= 0"),
    "evals_per_epoch": ("int", lambda v: 1 <= v <= MAX_EVALS_PER_EPOCH, f"an integer >= 1 and <= {MAX_EVALS_PER_EPOCH}"),
}


class SearchSpace(_Model):
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


# -- the other parts -----------------------------------------------------------------


class ModelSpec(_Model):
    """The pretrained multilingual model (phase 1).

    Attributes:
        name_or_path: a hub id (``FacebookAI/xlm-roberta-large``) or a local
            directory (``.cache/tiny-xlmr``).
        trust_remote_code: only ``false``, kept so that specs and sweep
            folders that name it still load. A spec travels with its sweep
            folder (``spec.yaml``, ``sweep.json``), which raygrid does not
            trust (docs/security.md): transformers runs a model's code only
            with the command line's ``--trust-remote-code``.
    """

    name_or_path: str
    trust_remote_code: bool = False


class DataSpec(_Model):
    """Where data comes from and how much of it is used.

    Attributes:
        source: ``hub`` or ``bundled`` (the small fixtures shipped with raygrid).
        local_dirs: folders laid out as ``<dir>/<task>/<split>.<lang>.jsonl``
            that override the source (e.g. CCGbank, which is not on the hub).
        max_train_examples: cap per training task (seeded subsample).
        max_train_examples_per_task: task -> its own cap, replacing
            ``max_train_examples`` for that task: an intermediate task
            (``mnli``, also inside ``all`` or ``a+b``) or a target, whose
            cap is that of its English training data (``xnli: 300`` caps
            the MNLI rows XNLI's target phase trains on, not the ``mnli``
            intermediate). A low-resource target, as X-STILTs studies.
        max_eval_examples: cap per language and split for dev and test.
    """

    source: DataSource = DataSource.HUB
    local_dirs: tuple[str, ...] = ()
    max_train_examples: int | None = None
    max_train_examples_per_task: dict[str, int] = Field(default_factory=dict)
    max_eval_examples: int | None = None

    def train_cap(self, task: str) -> int | None:
        """The training-example cap of ``task`` (an intermediate task or a target)."""
        return self.max_train_examples_per_task.get(task, self.max_train_examples)

    def key_fields(self) -> dict[str, Any]:
        """What cell keys hash (without the per-task caps when none are set,
        so keys of specs written before they existed do not change)."""
        exclude = None if self.max_train_examples_per_task else {"max_train_examples_per_task"}
        return self.model_dump(mode="json", exclude=exclude)


class TargetSpec(_Model):
    """One target task and the languages it is evaluated in.

    Attributes:
        task: an XTREME target of the catalogue (``raygrid tasks --role target``).
        languages: evaluation languages; omitted: every language of the task.
    """

    task: str
    languages: tuple[str, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _default_languages(cls, data: Any) -> Any:
        # Filled here, from the catalogue, so the parsed spec is explicit.
        if isinstance(data, Mapping) and data.get("languages") is None and isinstance(data.get("task"), str):
            from raygrid.tasks import task_names

            task = data["task"]
            if task in task_names():
                from raygrid.tasks import get_task

                return {**data, "languages": get_task(task).languages}
            return {**data, "languages": ()}
        return data


class Trials(_Model):
    """Optuna trials per cell, per stage."""

    intermediate: int = 1
    target: int = 1


class SamplerSpec(_Model):
    """The Optuna sampler of each cell's study.

    Attributes:
        type: ``tpe``, ``random`` or ``grid``.
        seed: the sampler's seed; ``None``: the spec's master ``seed``.
        n_startup_trials: TPE only: random trials before TPE takes over
            (``None``: Optuna's default, 10).
    """

    type: SamplerType = SamplerType.TPE
    seed: int | None = None
    n_startup_trials: int | None = None

    def build(self, *, seed: int, space: StageSpace | None = None) -> Any:
        """The Optuna sampler of one cell's study (imports optuna); ``space``
        is needed by the grid sampler only. Pass :attr:`SweepSpec.sampler_seed`
        (or a seed derived from it per cell)."""
        import optuna

        if self.type is SamplerType.RANDOM:
            return optuna.samplers.RandomSampler(seed=seed)
        if self.type is SamplerType.GRID:
            grid = {name: list(dist.grid_values() or ()) for name, dist in (space or StageSpace()).distributions().items()}
            return optuna.samplers.GridSampler(grid, seed=seed)
        extra = {} if self.n_startup_trials is None else {"n_startup_trials": self.n_startup_trials}
        return optuna.samplers.TPESampler(seed=seed, **extra)


class EarlyStopping(_Model):
    """Early stopping by an Optuna pruner of each cell's study (it compares only
    trials of the same cell). The resource is the number of English-dev
    evaluations a trial has reported.

    Attributes:
        type: ``none``, ``median`` (``MedianPruner``: stop a trial whose best
            value is below the median of earlier trials at the same step) or
            ``successive_halving`` (``SuccessiveHalvingPruner``: ASHA's rungs).
        min_resource: evaluations before a trial can be stopped (median:
            ``n_warmup_steps``; successive halving: the first rung).
        reduction_factor: successive halving: keep the top 1/factor per rung.
        n_startup_trials: median: trials that run to completion before any
            trial of the cell is pruned.
    """

    type: PrunerType = PrunerType.NONE
    min_resource: int = 1
    reduction_factor: int = 3
    n_startup_trials: int = 2

    def build(self) -> Any:
        """The Optuna pruner (imports optuna)."""
        import optuna

        if self.type is PrunerType.MEDIAN:
            return optuna.pruners.MedianPruner(n_startup_trials=self.n_startup_trials, n_warmup_steps=self.min_resource)
        if self.type is PrunerType.SUCCESSIVE_HALVING:
            return optuna.pruners.SuccessiveHalvingPruner(
                min_resource=self.min_resource, reduction_factor=self.reduction_factor
            )
        return optuna.pruners.NopPruner()


class ConfirmSpec(_Model):
    """The confirm stage: the best config of each target cell retrained per seed.

    Attributes:
        seeds: one confirm run per seed.
        eval_split: split scored zero-shot; ``None``: test where the task
            has it, else dev.
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    eval_split: Literal["dev", "test"] | None = None


class Resources(_Model):
    """What one trial (a Ray Train run) asks for.

    Attributes:
        num_workers: data-parallel Train workers per trial.
        use_gpu: one or more GPUs per worker.
        cpus_per_worker: CPUs per worker.
        gpus_per_worker: GPUs per worker (default: 1 with ``use_gpu``, else 0).
        compile: ``torch.compile`` every trial's model (worth it on GPUs for
            long trials; compiling costs a minute or more per trial). How a
            trial runs, not what it computes: not part of any run key.
    """

    num_workers: int = 1
    use_gpu: bool = False
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    compile: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_gpus(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("gpus_per_worker") is None:
            return {**data, "gpus_per_worker": 1.0 if data.get("use_gpu") is True else 0.0}
        return data


class AttackSpec(_Model):
    """One attack of the confirm stage's suite.

    Only the name's syntax is checked here: the attack registry
    (``raygrid.attacks``) validates names and params: ``raygrid perturb`` /
    ``raygrid attack --help`` and :func:`raygrid.attacks.attack_parameters`
    list them.
    """

    name: str
    params: dict[str, JsonValue] = Field(default_factory=dict)


class CheckpointsSpec(_Model):
    """What the sweep folder keeps of its checkpoints (``checkpoints/<unit key>/``).

    Attributes:
        keep: ``best`` (default): once a cell's every trial has finished,
            the checkpoints of its other trials (complete, pruned or failed)
            are deleted; the best trial's (an intermediate cell's is the
            parent of its target cells) and every confirm run's are kept.
            ``all``: nothing is deleted. How much disk a sweep holds, not
            what it computes: not part of the fingerprint or any key
            (:data:`RUNTIME_FIELDS`). ``raygrid plan`` estimates both.
    """

    keep: CheckpointKeep = CheckpointKeep.BEST


# -- the spec ------------------------------------------------------------------------


class SweepSpec(_Model):
    """A whole sweep. Build it with :func:`load_spec` or :func:`parse_spec`.

    Attributes:
        name: the sweep's name, also its folder: ``<storage>/<name>/``.
        model: the pretrained model.
        data: data source and caps.
        intermediates: intermediate entries (``none``, a task, ``all``, ``a+b``).
        targets: target tasks and their languages.
        search_space: the space per stage (and per task overlays).
        n_trials: trials per cell per stage (retrieval targets have none).
        sampler: the Optuna sampler.
        direction: the objective's direction. The objective is the primary
            metric of the cell's task on its ENGLISH dev set (the mean over the
            tasks of a mixture): every catalogue metric is higher-is-better.
        early_stopping: the pruner of each cell's study.
        confirm: the confirm stage.
        resources: what one trial asks for.
        max_concurrent_trials: trials running at once (``None``: as many as
            the cluster fits).
        max_failures: retries of a crashed trial before it is marked failed.
        storage: a local directory (relative paths: to the working
            directory) or ``s3://bucket/prefix``.
        attacks: the confirm stage's attack suite (see :class:`AttackSpec`).
        checkpoints: which checkpoints are kept (see :class:`CheckpointsSpec`).
        seed: the master seed (sampler, data order, subsamples).
    """

    name: str
    model: ModelSpec
    data: DataSpec = Field(default_factory=DataSpec)
    intermediates: tuple[str, ...]
    targets: tuple[TargetSpec, ...]
    search_space: SearchSpace = Field(default_factory=SearchSpace)
    n_trials: Trials = Field(default_factory=Trials)
    sampler: SamplerSpec = Field(default_factory=SamplerSpec)
    direction: Direction = Direction.MAXIMIZE
    early_stopping: EarlyStopping = Field(default_factory=EarlyStopping)
    confirm: ConfirmSpec = Field(default_factory=ConfirmSpec)
    resources: Resources = Field(default_factory=Resources)
    max_concurrent_trials: int | None = None
    max_failures: int = 2
    storage: str = "runs/"
    attacks: tuple[AttackSpec, ...] = ()
    checkpoints: CheckpointsSpec = Field(default_factory=CheckpointsSpec)
    seed: int = 0

    _source: str = PrivateAttr(default="<spec>")

    @model_validator(mode="after")
    def _check(self) -> SweepSpec:
        # Every semantic check lives here (field types are pydantic's job).
        _check_scalars(self)
        _check_runtime(self)
        _check_grid(self)
        _check_search(self)
        return self

    # -- derived values --------------------------------------------------------------

    @property
    def source(self) -> str:
        """The file the spec was loaded from (``<spec>`` if built in code)."""
        return self._source

    @property
    def sampler_seed(self) -> int:
        """The sampler's seed (the master seed unless set)."""
        return self.sampler.seed if self.sampler.seed is not None else self.seed

    @property
    def sweep_uri(self) -> str:
        """The sweep's folder: ``<storage>/<name>``."""
        return f"{self.storage.rstrip('/')}/{self.name}"

    def intermediate_tasks(self, entry: str) -> tuple[str, ...]:
        """The tasks trained by an intermediate entry (``none``: none)."""
        return resolve_intermediate(entry)

    def space_for(self, stage: Stage | str, name: str) -> StageSpace:
        """The search space of the cells of ``name`` (an intermediate entry
        or a target task) in ``stage``: the stage's space with ``name``'s
        ``per_task`` overlay."""
        stage = Stage(stage)
        if stage is Stage.CONFIRM:
            raise ValueError("the confirm stage has no search space")
        base: StageSpace = getattr(self.search_space, stage.value)
        return base.overlay(self.search_space.per_task.get(name))

    def trials_for(self, stage: Stage | str) -> int:
        """Trials per cell in ``stage`` (0 for confirm)."""
        stage = Stage(stage)
        return 0 if stage is Stage.CONFIRM else int(getattr(self.n_trials, stage.value))

    def replace(self, **changes: Any) -> SweepSpec:
        """A validated copy with top-level fields replaced (e.g. ``storage``
        from ``raygrid run --storage``)."""
        data = {**self.model_dump(mode="json"), **changes}
        return parse_spec(data, source=self.source)

    # -- resume support --------------------------------------------------------------

    def normalised(self, *, runtime: bool = True) -> dict[str, Any]:
        """The spec as plain JSON with defaults resolved (the sampler seed);
        without ``runtime``, the :data:`RUNTIME_FIELDS` are left out."""
        data = self.model_dump(mode="json")
        data["sampler"]["seed"] = self.sampler_seed
        if not runtime:
            for name in RUNTIME_FIELDS:
                data.pop(name, None)
        return data  # type: ignore[no-any-return]

    def fingerprint(self) -> str:
        """A stable key of what the spec computes (not where or how wide it
        runs: see :data:`RUNTIME_FIELDS`). Resume refuses a spec whose
        fingerprint differs from the sweep's."""
        return stable_key(self.normalised(runtime=False))

    def diff(self, other: SweepSpec) -> list[str]:
        """Changed field paths, ``path: old -> new``, in field order.

        Example:
            >>> a = parse_spec({"name": "a", "model": {"name_or_path": "m"},
            ...                 "intermediates": ["none"], "targets": [{"task": "pawsx"}]})
            >>> a.diff(a.replace(storage="s3://bucket/runs", max_failures=0))
            ['max_failures: 2 -> 0', 'storage: "runs/" -> "s3://bucket/runs"']
        """
        lines: list[str] = []
        _diff(self.normalised(), other.normalised(), "", lines)
        return lines


_ABSENT = object()


def _show(value: Any) -> str:
    return "(absent)" if value is _ABSENT else json.dumps(value, ensure_ascii=False)


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    """Appends ``path: old -> new`` lines; mappings and same-length lists of
    mappings are compared item by item, anything else as a whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            _diff(old.get(key, _ABSENT), new.get(key, _ABSENT), f"{path}.{key}" if path else str(key), out)
        return
    nested = isinstance(old, list) and isinstance(new, list) and len(old) == len(new)
    if nested and any(isinstance(item, (dict, list)) for item in old + new):
        for index, (before, after) in enumerate(zip(old, new)):
            _diff(before, after, f"{path}[{index}]", out)
        return
    if old != new or type(old) is not type(new):
        out.append(f"{path}: {_show(old)} -> {_show(new)}")


# -- the checks (called only from SweepSpec._check) --------------------------------------


def resolve_intermediate(entry: str) -> tuple[str, ...]:
    """The tasks of an intermediate entry: ``none`` -> (), ``all`` -> every
    intermediate task of the catalogue, ``a+b`` -> (a, b) sorted. Assumes a
    valid entry (as in a loaded spec).

    Example:
        >>> resolve_intermediate("squad_v2+mnli")
        ('mnli', 'squad_v2')
    """
    from raygrid.tasks import task_names

    if entry == NONE:
        return ()
    if entry == ALL:
        return tuple(sorted(task_names("intermediate")))
    return tuple(sorted(part.strip() for part in entry.split(MIXTURE_SEPARATOR)))


def _check_int(path: Sequence[str | int], value: int | None, low: int, allowed: str) -> None:
    if value is not None and value < low:
        raise _Invalid(path, f"bad value {value!r}", allowed)


def _check_seed(path: Sequence[str | int], value: int | None) -> None:
    if value is not None and not 0 <= value <= _MAX_SEED:
        raise _Invalid(path, f"bad seed {value!r}", f"an integer in [0, {_MAX_SEED}]")


def _check_scalars(spec: SweepSpec) -> None:
    if not _NAME_PATTERN.fullmatch(spec.name):  # fullmatch: '$' would let a trailing newline through
        raise _Invalid(("name",), f"bad name {spec.name!r}", "letters, digits, '.', '_' and '-' (it names a folder)")
    if not spec.model.name_or_path.strip():
        raise _Invalid(("model", "name_or_path"), "empty", "a hub id or a local directory")
    if spec.model.trust_remote_code:
        raise _Invalid(
            ("model", "trust_remote_code"),
            "true: a spec may not let transformers run the model's own code",
            "false or absent; set it with --trust-remote-code on the command line",
        )
    _check_printable(("model", "name_or_path"), spec.model.name_or_path)
    for index, directory in enumerate(spec.data.local_dirs):
        if not directory.strip():
            raise _Invalid(("data", "local_dirs", index), "empty", "a directory path")
        _check_printable(("data", "local_dirs", index), directory)
    _check_int(("data", "max_train_examples"), spec.data.max_train_examples, 1, "an integer >= 1 or null")
    _check_int(("data", "max_eval_examples"), spec.data.max_eval_examples, 1, "an integer >= 1 or null")
    _check_unique(("data", "local_dirs"), spec.data.local_dirs, "directory")
    _check_seed(("seed",), spec.seed)


def _check_printable(path: Sequence[str | int], text: str) -> None:
    """Refuses a control character (a newline pasted at the end of a path
    or hub id names another folder than the user sees)."""
    if any(ch < " " or ch == "\x7f" for ch in text):
        raise _Invalid(path, f"bad value {text!r}: holds a control character", "printable text")


def _check_unique(path: Sequence[str | int], values: Sequence[Any], what: str) -> None:
    seen: dict[Any, int] = {}
    for index, value in enumerate(values):
        if value in seen:
            raise _Invalid(
                (*path, index), f"duplicated {what} {value!r} (also at index {seen[value]})", f"each {what} once"
            )
        seen[value] = index


def _check_grid(spec: SweepSpec) -> None:
    from raygrid.tasks import get_task, task_names

    intermediates = task_names("intermediate")
    targets = task_names("target")
    entry_allowed = f"{NONE!r}, {ALL!r}, an intermediate task or a mixture 'a+b' of them: {one_of(intermediates)}"

    if not spec.intermediates:
        raise _Invalid(("intermediates",), "empty grid: no intermediate entry", f"at least one of {entry_allowed}")
    seen: dict[tuple[str, ...] | str, int] = {}
    for index, entry in enumerate(spec.intermediates):
        path = ("intermediates", index)
        parts = [part.strip() for part in entry.split(MIXTURE_SEPARATOR)]
        if entry in (NONE, ALL):
            tasks: tuple[str, ...] | str = entry if entry == NONE else tuple(sorted(intermediates))
        else:
            for part in parts:
                if part in (NONE, ALL) and len(parts) > 1:
                    raise _Invalid(path, f"{part!r} inside the mixture {entry!r}", entry_allowed)
                if part in targets:
                    raise _Invalid(path, f"{part!r} is a target task, not an intermediate task", entry_allowed)
                if part not in intermediates:
                    raise _Invalid(path, f"unknown intermediate task {part!r}", entry_allowed, guess=(part, intermediates))
            if len(set(parts)) != len(parts):
                raise _Invalid(path, f"the mixture {entry!r} names a task twice", "each task once")
            if entry != MIXTURE_SEPARATOR.join(parts):
                raise _Invalid(path, f"spaces in {entry!r}", "task names joined by '+' without spaces")
            tasks = tuple(sorted(parts))
        if tasks in seen:
            raise _Invalid(
                path,
                f"duplicated intermediate entry {entry!r} (same tasks as intermediates[{seen[tasks]}])",
                "each entry once",
            )
        seen[tasks] = index
        if spec.data.source is DataSource.HUB and not spec.data.local_dirs:
            for task_name in resolve_intermediate(entry):
                if get_task(task_name).hub is None:
                    raise _Invalid(
                        path,
                        f"task {task_name!r} has no hub source and data.local_dirs is empty",
                        "data.local_dirs holding <dir>/" + task_name + "/{train,dev}.en.jsonl, or data.source: bundled",
                    )

    if not spec.targets:
        raise _Invalid(("targets",), "empty grid: no target task", f"at least one of {one_of(targets)}")
    first: dict[str, int] = {}
    for index, target in enumerate(spec.targets):
        path = ("targets", index, "task")
        if target.task in intermediates:
            raise _Invalid(path, f"{target.task!r} is an intermediate task, not a target task", one_of(targets))
        if target.task not in targets:
            raise _Invalid(path, f"unknown target task {target.task!r}", one_of(targets), guess=(target.task, targets))
        if target.task in first:
            raise _Invalid(path, f"duplicated target {target.task!r} (also targets[{first[target.task]}])", "each target once")
        first[target.task] = index
        task = get_task(target.task)
        if not target.languages:
            raise _Invalid(("targets", index, "languages"), "empty", f"omit it (all) or some of {one_of(task.languages)}")
        for lang_index, language in enumerate(target.languages):
            if language not in task.languages:
                raise _Invalid(
                    ("targets", index, "languages", lang_index),
                    f"unknown language {language!r} for task {task.name!r}",
                    one_of(task.languages),
                    guess=(language, task.languages),
                )
        _check_unique(("targets", index, "languages"), target.languages, "language")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def param_problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` as the hyper-parameter ``name`` (``None``:
    nothing): the one check of a value, shared by the spec's search spaces
    and :class:`raygrid.cell.Overrides` (``raygrid cell``'s options). The
    allowed values are ``PARAMS[name][2]``."""
    kind, ok, _ = PARAMS[name]
    if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
        return f"bad value {value!r}: {name} is an integer"
    if kind != "int" and not _is_number(value):
        return f"bad value {value!r}: {name} is a number"
    if not math.isfinite(value) or not ok(value):
        return f"bad value {value!r}"
    return None


def _check_param(path: tuple[str | int, ...], name: str, value: Scalar | Distribution) -> None:
    kind, _, allowed = PARAMS[name]
    integer = kind == "int"

    def check_value(where: tuple[str | int, ...], v: Any) -> None:
        problem = param_problem(name, v)
        if problem is not None:
            raise _Invalid(where, problem, allowed)

    if isinstance(value, FloatDistribution):
        if integer:
            raise _Invalid((*path, "type"), f"a float distribution for the integer {name}", "'int' or 'categorical'")
        check_value((*path, "low"), value.low)
        check_value((*path, "high"), value.high)
        if value.low > value.high:
            raise _Invalid(path, f"low {value.low!r} > high {value.high!r}", "low <= high")
        if value.step is not None:
            if value.log:
                raise _Invalid((*path, "step"), "step with log: true", "step: null for a log distribution")
            if not value.step > 0:
                raise _Invalid((*path, "step"), f"bad value {value.step!r}", "a number > 0 or null")
        if value.log and not value.low > 0:
            raise _Invalid((*path, "low"), f"log distribution with low {value.low!r}", "low > 0")
    elif isinstance(value, IntDistribution):
        check_value((*path, "low"), value.low)
        check_value((*path, "high"), value.high)
        if value.low > value.high:
            raise _Invalid(path, f"low {value.low!r} > high {value.high!r}", "low <= high")
        if value.step < 1:
            raise _Invalid((*path, "step"), f"bad value {value.step!r}", "an integer >= 1")
        if value.log and value.step != 1:
            raise _Invalid((*path, "step"), "step != 1 with log: true", "step: 1 for a log distribution")
        if value.log and value.low < 1:
            raise _Invalid((*path, "low"), f"log distribution with low {value.low!r}", "low >= 1")
    elif isinstance(value, CategoricalDistribution):
        if not value.choices:
            raise _Invalid((*path, "choices"), "empty", "one or more values")
        for index, choice in enumerate(value.choices):
            check_value((*path, "choices", index), choice)
        _check_unique((*path, "choices"), value.choices, "choice")
    else:
        check_value(path, value)


def _values(space: StageSpace, name: str, default: int) -> tuple[Any, ...] | None:
    """The values ``name`` can take in ``space`` (None: not enumerable)."""
    value = space.params().get(name)
    if value is None:
        return (default,)
    if isinstance(value, _Distribution):
        return value.grid_values()
    return (value,)


def _check_search(spec: SweepSpec) -> None:
    from raygrid.tasks import get_task

    space = spec.search_space
    trainable_targets = [t.task for t in spec.targets if get_task(t.task).trainable]
    overlay_allowed = [e for e in spec.intermediates if e != NONE] + trainable_targets
    for stage in (Stage.INTERMEDIATE, Stage.TARGET):
        for name, value in getattr(space, stage.value).params().items():
            _check_param(("search_space", stage.value, name), name, value)
    capped = sorted({t for e in spec.intermediates if e != NONE for t in resolve_intermediate(e)}) + trainable_targets
    for key, cap in spec.data.max_train_examples_per_task.items():
        if key not in capped:
            raise _Invalid(
                ("data", "max_train_examples_per_task", key),
                f"{key!r} trains in no cell of the grid",
                one_of(capped),
                guess=(key, capped),
            )
        _check_int(("data", "max_train_examples_per_task", key), cap, 1, "an integer >= 1")
    for key, overlay in space.per_task.items():
        if key not in overlay_allowed:
            retrieval = key in {t.task for t in spec.targets}
            problem = f"{key!r} is a retrieval target: it has no trials" if retrieval else f"{key!r} is not in the grid"
            raise _Invalid(
                ("search_space", "per_task", key), problem, one_of(overlay_allowed), guess=(key, overlay_allowed)
            )
        for name, value in overlay.params().items():
            _check_param(("search_space", "per_task", key, name), name, value)

    for stage in (Stage.INTERMEDIATE, Stage.TARGET):
        allowed = f"an integer >= 1 and <= {MAX_TRIALS_PER_CELL} (MAX_TRIALS_PER_CELL)"
        _check_int(("n_trials", stage.value), spec.trials_for(stage), 1, allowed)
        if spec.trials_for(stage) > MAX_TRIALS_PER_CELL:
            raise _Invalid(("n_trials", stage.value), f"bad value {spec.trials_for(stage)!r}", allowed)

    # Each cell: the space it really searches, and its batch arithmetic.
    cells: list[tuple[Stage, str, tuple[str, ...]]] = [
        (Stage.INTERMEDIATE, e, resolve_intermediate(e)) for e in spec.intermediates if e != NONE
    ] + [(Stage.TARGET, t, (t,)) for t in trainable_targets]
    for stage, name, tasks in cells:
        cell_space = spec.space_for(stage, name)
        where = f"the {stage.value} cell {name!r}"
        n_trials = spec.trials_for(stage)
        if n_trials > 1 and not cell_space.distributions():
            raise _Invalid(
                ("n_trials", stage.value),
                f"{n_trials} trials of {where}, whose search space has no distribution (every trial is the same)",
                "1, or a distribution in search_space",
            )
        if spec.sampler.type is SamplerType.GRID:
            for param, dist in cell_space.distributions().items():
                if dist.grid_values() is None:
                    raise _Invalid(
                        ("search_space", stage.value, param),
                        f"a continuous distribution with sampler.type 'grid' ({where})",
                        "int, categorical or a float with a step",
                    )
        batch_default = min(get_task(t).defaults.batch_size for t in tasks)
        batches = _values(cell_space, "batch_size", batch_default)
        accumulations = _values(cell_space, "grad_accumulation_steps", 1)
        workers = spec.resources.num_workers
        for batch in batches or ():
            for accumulation in accumulations or ():
                if batch % (accumulation * workers):
                    raise _Invalid(
                        ("search_space", stage.value, "batch_size"),
                        f"batch_size {batch} of {where} is not divisible by grad_accumulation_steps {accumulation}"
                        f" x resources.num_workers {workers}",
                        "an effective batch divisible by grad_accumulation_steps x num_workers",
                    )

    sampler = spec.sampler
    _check_seed(("sampler", "seed"), sampler.seed)
    if sampler.n_startup_trials is not None:
        if sampler.type is not SamplerType.TPE:
            raise _Invalid(("sampler", "n_startup_trials"), f"set for sampler.type {sampler.type.value!r}", "null")
        _check_int(("sampler", "n_startup_trials"), sampler.n_startup_trials, 0, "an integer >= 0 or null")
    stopping = spec.early_stopping
    _check_int(("early_stopping", "min_resource"), stopping.min_resource, 1, "an integer >= 1")
    _check_int(("early_stopping", "reduction_factor"), stopping.reduction_factor, 2, "an integer >= 2")
    _check_int(("early_stopping", "n_startup_trials"), stopping.n_startup_trials, 0, "an integer >= 0")


def _check_runtime(spec: SweepSpec) -> None:
    confirm = spec.confirm
    if not confirm.seeds:
        raise _Invalid(("confirm", "seeds"), "empty", "one or more seeds, e.g. [0, 1, 2]")
    if len(confirm.seeds) > MAX_CONFIRM_SEEDS:
        raise _Invalid(
            ("confirm", "seeds"), f"{len(confirm.seeds)} seeds", f"at most {MAX_CONFIRM_SEEDS} seeds (MAX_CONFIRM_SEEDS)"
        )
    for index, seed in enumerate(confirm.seeds):
        _check_seed(("confirm", "seeds", index), seed)
    _check_unique(("confirm", "seeds"), confirm.seeds, "seed")

    res = spec.resources
    _check_int(("resources", "num_workers"), res.num_workers, 1, "an integer >= 1")
    if not res.cpus_per_worker > 0:
        raise _Invalid(("resources", "cpus_per_worker"), f"bad value {res.cpus_per_worker!r}", "a number > 0")
    if res.gpus_per_worker < 0:
        raise _Invalid(("resources", "gpus_per_worker"), f"bad value {res.gpus_per_worker!r}", "a number >= 0")
    if res.use_gpu and res.gpus_per_worker == 0:
        raise _Invalid(("resources", "gpus_per_worker"), "0 with use_gpu: true", "a number > 0 (default 1)")
    if not res.use_gpu and res.gpus_per_worker > 0:
        raise _Invalid(
            ("resources", "gpus_per_worker"), f"{res.gpus_per_worker!r} with use_gpu: false", "0, or use_gpu: true"
        )
    _check_int(("max_concurrent_trials",), spec.max_concurrent_trials, 1, "an integer >= 1 or null")
    _check_int(("max_failures",), spec.max_failures, 0, "an integer >= 0")
    storage_problem = _storage_syntax(spec.storage)
    if storage_problem:
        raise _Invalid(("storage",), storage_problem, "a local path or s3://bucket/prefix")

    from raygrid.attacks import ATTACK_NAMES, get_attack
    from raygrid.errors import ConfigError as _AttackError

    seen: dict[str, int] = {}
    for index, attack in enumerate(spec.attacks):
        if not _ATTACK_PATTERN.fullmatch(attack.name):
            raise _Invalid(("attacks", index, "name"), f"bad name {attack.name!r}", "lower-case letters, digits and '_'")
        if attack.name not in ATTACK_NAMES:
            raise _Invalid(
                ("attacks", index, "name"),
                f"unknown attack {attack.name!r}",
                ", ".join(repr(n) for n in ATTACK_NAMES),
                guess=(attack.name, ATTACK_NAMES),
            )
        try:
            # the label names the attack in result rows: two entries with one label would collide
            ident = get_attack(attack.name, **attack.params).label
        except _AttackError as exc:
            problem, _, allowed = str(exc).partition("; allowed: ")
            raise _Invalid(("attacks", index, "params"), problem, allowed or None) from None
        if ident in seen:
            raise _Invalid(
                ("attacks", index), f"duplicated attack {attack.name!r} (also attacks[{seen[ident]}])", "each attack once"
            )
        seen[ident] = index


def _storage_syntax(storage: str) -> str | None:
    if not storage.strip():
        return "empty"
    if any(ch < " " or ch == "\x7f" for ch in storage):
        return f"{storage!r} holds a control character"
    if "://" in storage:
        if not storage.startswith("s3://"):
            return f"unsupported scheme in {storage!r}"
        if not _S3_PATTERN.fullmatch(storage):
            return f"bad S3 URI {storage!r}"
    return None


# -- loading ----------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads ``1e-5`` as a float (YAML 1.1
    wants ``1.0e-5``: a learning rate written the usual way would be a
    string) and refuses duplicate keys (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # '<<: *anchor' may be overridden
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: SafeLoader reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


_Loader.add_implicit_resolver(  # type: ignore[no-untyped-call]
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


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Reads and validates a sweep spec file.

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
    return parse_spec(_read_yaml(text, source), source=source)


def parse_spec_text(text: str, *, source: str) -> SweepSpec:
    """:func:`load_spec` of a spec already read (e.g. from S3); ``source``
    names it in errors."""
    return parse_spec(_read_yaml(text, source), source=source)


def parse_spec(data: Any, *, source: str = "<spec>") -> SweepSpec:
    """Validates already-parsed YAML/JSON data into a :class:`SweepSpec`.

    Raises:
        ConfigError: as :func:`load_spec`; ``source`` names the data in it.
    """
    fields = one_of(SweepSpec.model_fields)
    if data is None:
        raise ConfigError(f"{source}: (top level): the file is empty; allowed: a mapping with keys {fields}")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: (top level): a {_yaml_type(data)}, not a mapping; allowed: a mapping with keys {fields}"
        )
    bad = _first_non_finite(data, "")
    if bad is not None:
        path, value = bad
        raise ConfigError(f"{source}: {path}: bad value {value!r} (not a finite number); allowed: a finite number")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {_one_line(exc)}") from None
    spec._source = source
    return spec


def _first_non_finite(data: Any, path: str) -> tuple[str, float] | None:
    """The path and value of the first inf or nan anywhere in the spec's data
    (YAML's ``.inf``/``.nan``): no field of a spec takes one, and attack
    params are free-form, so one walk refuses them all."""
    if isinstance(data, float) and not math.isfinite(data):
        return path or "(top level)", data
    if isinstance(data, dict):  # parsed YAML/JSON: plain dicts and lists (an ABC check costs more)
        items: Iterable[tuple[str, Any]] = ((f"{path}.{k}" if path else str(k), v) for k, v in data.items())
    elif isinstance(data, (list, tuple)):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(data))
    else:
        return None
    for where, value in items:
        found = _first_non_finite(value, where)
        if found is not None:
            return found
    return None


def check_storage(spec: SweepSpec) -> None:
    """Checks that the spec's local storage can be written, without leaving
    anything behind: a temporary file is created and removed in the nearest
    existing folder of the path. ``s3://`` storage is only checked for syntax
    (at load).

    Raises:
        ConfigError: the path or one of its parents is a file, or the nearest
            existing folder is not writable.
    """
    storage = spec.storage
    if "://" in storage:
        return

    def fail(problem: str) -> ConfigError:
        return ConfigError(f"{spec.source}: storage: {problem}; allowed: a writable local directory or s3://bucket/prefix")

    path = Path(storage).expanduser().absolute()
    probe = path
    while not probe.exists():
        if probe.parent == probe:  # pragma: no cover - the root always exists
            break
        probe = probe.parent
    if not probe.is_dir():
        raise fail(f"{str(probe)!r} is not a directory, so {storage!r} cannot be created")
    try:
        handle, name = tempfile.mkstemp(prefix=".raygrid-write-check-", dir=probe)
    except OSError as exc:
        raise fail(f"{str(probe)!r} is not writable ({exc.strerror})") from None
    os.close(handle)
    os.unlink(name)


# -- ValidationError -> one line ----------------------------------------------------------


def _yaml_type(value: Any) -> str:
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


def _walk(loc: Sequence[str | int]) -> tuple[str, Any]:
    """The dotted path of a pydantic ``loc`` (union tags dropped, list indices
    as ``[i]``) and the annotation found there (``None`` if unknown)."""
    path = ""
    annotation: Any = SweepSpec
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
        return _PARAM_ALLOWED
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


def _one_line(exc: ValidationError) -> str:
    """``<field.path>: <problem>; allowed: <...>`` for the first error."""
    error = exc.errors()[0]
    kind, loc, value = error["type"], tuple(error["loc"]), error.get("input")
    ctx = error.get("ctx") or {}
    cause = ctx.get("error")
    if isinstance(cause, _Invalid):
        path, _ = _walk(loc + cause.path)
        message = f"{path or '(top level)'}: {cause.problem}; allowed: {cause.allowed or 'see raygrid.spec'}"
        return message + (did_you_mean(*cause.guess) if cause.guess else "")
    if kind == "unknown_key":
        path, _ = _walk((*loc, str(ctx["key"])))
        return f"{path}: unknown key; allowed: {one_of(ctx['allowed'])}" + did_you_mean(str(ctx["key"]), ctx["allowed"])
    path, annotation = _walk(loc)
    path = path or "(top level)"
    if kind == "missing":
        return f"{path}: required field is missing; allowed: {_describe(annotation)}"
    if kind == "param_value":
        return f"{path}: bad value {_short(value)}: {error['msg']}; allowed: {_PARAM_ALLOWED}"
    if kind in ("enum", "literal_error"):
        return f"{path}: bad value {_short(value)}; allowed: {_describe(annotation)}"
    message = error["msg"].replace("a valid tuple", "a list").replace("valid dictionary", "mapping")
    message = message[:1].lower() + message[1:]
    return f"{path}: bad value {_short(value)} ({message}); allowed: {_describe(annotation)}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = [
    "ALL",
    "DISTRIBUTION_TYPES",
    "MAX_CONFIRM_SEEDS",
    "MAX_TRIALS_PER_CELL",
    "MIXTURE_SEPARATOR",
    "NONE",
    "PARAMS",
    "RUNTIME_FIELDS",
    "AttackSpec",
    "CategoricalDistribution",
    "CheckpointKeep",
    "CheckpointsSpec",
    "ConfirmSpec",
    "DataSource",
    "DataSpec",
    "Direction",
    "Distribution",
    "EarlyStopping",
    "FloatDistribution",
    "IntDistribution",
    "ModelSpec",
    "Param",
    "PrunerType",
    "Resources",
    "SamplerSpec",
    "SamplerType",
    "SearchSpace",
    "Stage",
    "StageSpace",
    "SweepSpec",
    "TargetSpec",
    "Trials",
    "check_storage",
    "load_spec",
    "param_problem",
    "parse_spec",
    "parse_spec_text",
    "resolve_intermediate",
]
