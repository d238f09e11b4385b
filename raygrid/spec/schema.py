"""The spec's schema: pydantic models, one per part of a sweep spec.

Field types are pydantic's job; every check across fields is
:func:`raygrid.spec.checks.check_spec`'s, run by :class:`SweepSpec`'s
validator. Build a spec with :func:`raygrid.spec.load_spec` or
:func:`raygrid.spec.parse_spec`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import ValidationError
from pydantic import ConfigDict, Field, JsonValue, PrivateAttr, StrictBool, field_validator, model_validator
from pydantic_core import PydanticCustomError

from raygrid.errors import ConfigError, one_of
from raygrid.keys import stable_key
from raygrid.spec.base import Invalid, StrictModel
from raygrid.spec.checks import check_spec
from raygrid.spec.entries import resolve_intermediate
from raygrid.spec.enums import CheckpointKeep, DataSource, Direction, Stage
from raygrid.spec.messages import one_line, short, yaml_type
from raygrid.spec.space import SearchSpace, StageSpace

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

#: Fields added after sweeps had been started, as (path, the value that
#: behaves as raygrid did before the field existed). While a spec holds that
#: value the field is left out of :meth:`SweepSpec.normalised` (so of the
#: fingerprint, ``spec.yaml`` and ``sweep.json``): a folder started before
#: the field keeps its fingerprint and resumes, and a spec that spells the
#: value is the same sweep as one that does not.
LEGACY_DEFAULTS: tuple[tuple[tuple[str, str], Any], ...] = ((("confirm", "replicate_intermediate"), False),)


def with_legacy_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """A spec that raygrid wrote into a sweep folder (``sweep.json``,
    ``spec.yaml``: :meth:`SweepSpec.normalised`, which leaves out a field
    at its legacy value) with every absent :data:`LEGACY_DEFAULTS` field
    set to its legacy value, so that a folder keeps meaning what it meant
    when it was written even where the field's default has changed since."""
    out = {key: dict(value) if isinstance(value, Mapping) else value for key, value in data.items()}
    for (part, name), legacy in LEGACY_DEFAULTS:
        section = out.setdefault(part, {})
        if isinstance(section, dict):
            section.setdefault(name, legacy)
    return out


class ModelSpec(StrictModel):
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


class DataSpec(StrictModel):
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


class TargetSpec(StrictModel):
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


class Trials(StrictModel):
    """Optuna trials per cell, per stage."""

    intermediate: int = 1
    target: int = 1


class SearchName(str):
    """A registered sampler's or pruner's name (:mod:`raygrid.sweep.search`);
    ``.value`` as for the enums that named them before the registry."""

    __slots__ = ()

    @property
    def value(self) -> str:
        return str(self)


class _Algorithm(StrictModel):
    """A sampler or pruner: ``type`` names a registry entry; its options sit
    next to ``type`` and are checked by :mod:`raygrid.spec.checks`."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)
    _registry: ClassVar[str]

    type: str

    @classmethod
    def _algorithms(cls) -> Mapping[str, Any]:
        from raygrid.sweep import search

        return search.SAMPLERS if cls._registry == "sampler" else search.PRUNERS

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # As StrictModel's, plus the options of the algorithm named by 'type'.
        if isinstance(data, Mapping):
            name = data.get("type", cls.model_fields["type"].default)
            algorithm = cls._algorithms().get(name) if isinstance(name, str) else None
            allowed = tuple(cls.model_fields) + tuple(
                o for o in (algorithm.options if algorithm is not None else ()) if o not in cls.model_fields
            )
            for key in data:
                if key not in allowed:
                    raise PydanticCustomError("unknown_key", "unknown key {key}", {"key": key, "allowed": allowed})
        return data

    @field_validator("type", mode="before")
    @classmethod
    def _registered(cls, value: Any) -> Any:
        names = cls._algorithms()
        if not isinstance(value, str) or value not in names:
            raise Invalid((), f"bad value {short(value)}", one_of(names))
        return value

    @field_validator("type", mode="after")
    @classmethod
    def _named(cls, value: str) -> str:
        return SearchName(value)

    def key_fields(self, **resolved: Any) -> dict[str, Any]:
        """What cell keys hash: this model's fields and the algorithm's key
        options that differ from their defaults (:func:`raygrid.sweep.search.key_payload`)."""
        from raygrid.sweep.search import key_payload

        return key_payload(self._algorithms()[self.type], self, **resolved)


class SamplerSpec(_Algorithm):
    """The Optuna sampler of each cell's study: a sampler of
    :data:`raygrid.sweep.search.SAMPLERS` and its options.

    Attributes:
        type: ``tpe``, ``random``, ``grid`` or another registered sampler.
        seed: the sampler's seed; ``None``: the spec's master ``seed``.
        n_startup_trials: TPE only: random trials before TPE takes over
            (``None``: Optuna's default, 10). A field of every sampler (null
            for the others) because every cell key holds it.
    """

    _registry: ClassVar[str] = "sampler"

    type: str = SearchName("tpe")
    seed: int | None = None
    n_startup_trials: int | None = None


class EarlyStopping(_Algorithm):
    """Early stopping by an Optuna pruner of each cell's study (it compares only
    trials of the same cell): a pruner of :data:`raygrid.sweep.search.PRUNERS`
    and its options. The resource is the number of English-dev evaluations a
    trial has reported.

    Attributes:
        type: ``none``, ``median`` (``MedianPruner``: stop a trial whose best
            value is below the median of earlier trials at the same step),
            ``successive_halving`` (``SuccessiveHalvingPruner``: ASHA's rungs)
            or another registered pruner.
        min_resource: evaluations before a trial can be stopped (median:
            ``n_warmup_steps``; successive halving: the first rung).
        reduction_factor: successive halving: keep the top 1/factor per rung.
        n_startup_trials: median: trials that run to completion before any
            trial of the cell is pruned.
    """

    _registry: ClassVar[str] = "pruner"

    type: str = SearchName("none")
    min_resource: int = 1
    reduction_factor: int = 3
    n_startup_trials: int = 2


class ConfirmSpec(StrictModel):
    """The confirm stage: the best config of each target cell retrained per seed.

    Attributes:
        seeds: one confirm run per seed.
        eval_split: split scored zero-shot; ``None``: test where the task
            has it, else dev.
        replicate_intermediate: each confirm seed also retrains the
            intermediate phase (the intermediate cell's selected config,
            that seed) and trains its target phase from that checkpoint,
            so that the spread over seeds covers intermediate training
            too; off, every seed starts from the intermediate cell's one
            selected checkpoint (inference is then conditional on it).
            Baseline (``none``) and retrieval confirm runs are the same
            either way. On by default (the intervals then cover what the
            claim is about); a sweep folder started before the field existed
            reads as off and keeps its keys (:data:`LEGACY_DEFAULTS`,
            :func:`with_legacy_defaults`).
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    eval_split: Literal["dev", "test"] | None = None
    replicate_intermediate: StrictBool = True


class Resources(StrictModel):
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


class AttackSpec(StrictModel):
    """One attack of the confirm stage's suite.

    Only the name's syntax is checked here: the attack registry
    (``raygrid.attacks``) validates names and params: ``raygrid perturb`` /
    ``raygrid attack --help`` and :func:`raygrid.attacks.attack_parameters`
    list them.
    """

    name: str
    params: dict[str, JsonValue] = Field(default_factory=dict)


class CheckpointsSpec(StrictModel):
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




class SweepSpec(StrictModel):
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
        check_spec(self)
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
        for (part, name), legacy in LEGACY_DEFAULTS:
            if data[part][name] == legacy:
                del data[part][name]
        if not runtime:
            for name in RUNTIME_FIELDS:
                data.pop(name, None)
        return data

    def fingerprint(self) -> str:
        """A stable key of what the spec computes (not where or how wide it
        runs: see :data:`RUNTIME_FIELDS`; of the sampler and pruner, what
        cell keys hold). Resume refuses a spec whose fingerprint differs
        from the sweep's."""
        data = self.normalised(runtime=False)
        data["sampler"] = self.sampler.key_fields(seed=self.sampler_seed)
        data["early_stopping"] = self.early_stopping.key_fields()
        return stable_key(data)

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


def parse_spec(data: Any, *, source: str = "<spec>", written: bool = False) -> SweepSpec:
    """Validates already-parsed YAML/JSON data into a :class:`SweepSpec`;
    ``written``: the data is a spec raygrid wrote into a sweep folder (an
    absent field of :data:`LEGACY_DEFAULTS` then takes its legacy value).

    Raises:
        ConfigError: as :func:`load_spec`; ``source`` names the data in it.
    """
    fields = one_of(SweepSpec.model_fields)
    if data is None:
        raise ConfigError(f"{source}: (top level): the file is empty; allowed: a mapping with keys {fields}")
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{source}: (top level): a {yaml_type(data)}, not a mapping; allowed: a mapping with keys {fields}"
        )
    if written:
        data = with_legacy_defaults(data)
    bad = _first_non_finite(data, "")
    if bad is not None:
        path, value = bad
        raise ConfigError(f"{source}: {path}: bad value {value!r} (not a finite number); allowed: a finite number")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {one_line(exc, SweepSpec)}") from None
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



__all__ = [
    "RUNTIME_FIELDS",
    "AttackSpec",
    "CheckpointsSpec",
    "ConfirmSpec",
    "DataSpec",
    "EarlyStopping",
    "ModelSpec",
    "Resources",
    "SamplerSpec",
    "SearchName",
    "SweepSpec",
    "TargetSpec",
    "Trials",
]
