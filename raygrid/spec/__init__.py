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
    hyper-parameter names (the searchable rows of :mod:`raygrid.hparams`,
    which are :class:`~raygrid.train.config.TrainConfig` fields) to a fixed value
    or an Optuna distribution::

        learning_rate: {type: float, low: 1.0e-5, high: 1.0e-4, log: true}
        num_epochs: {type: int, low: 1, high: 3}
        batch_size: {type: categorical, choices: [16, 32]}
        max_seq_length: 128

    A hyper-parameter that is not named keeps the task's default (jiant's
    X-STILTs values, :attr:`raygrid.tasks.TaskSpec.defaults`).
    ``search_space.per_task`` overlays a space on the cells of one
    intermediate entry or one target task (e.g. more epochs for UD-POS).

Samplers and early stopping
    ``sampler.type`` and ``early_stopping.type`` name entries of the search
    registry (:mod:`raygrid.sweep.search`), their options written next to
    ``type``. Early stopping is an Optuna pruner per cell study: ``median`` (Optuna's ``MedianPruner``)
    or ``successive_halving`` (``SuccessiveHalvingPruner``, asynchronous
    successive halving as in ASHA). Each cell has its own study, so a trial is
    only ever compared with trials of the same cell: a shared scheduler would
    compare losses of different tasks (see DESIGN.md). The resource is the
    number of English-dev evaluations reported (``evals_per_epoch`` per epoch).

Example:
    >>> spec = load_spec("search_spaces/demo.yaml")  # doctest: +SKIP
    >>> spec.targets[0].task, spec.n_trials.target  # doctest: +SKIP
    ('xnli', 3)

The package, by concern:

- :mod:`raygrid.spec.schema`: the pydantic models (:class:`SweepSpec` and its parts);
- :mod:`raygrid.spec.space`: search spaces and distributions;
- :mod:`raygrid.spec.checks`: the checks across fields (with
  :mod:`~raygrid.spec.attacks` and :mod:`~raygrid.spec.storage`);
- :mod:`raygrid.spec.loading`: the YAML loader, :func:`load_spec`, :func:`parse_spec`;
- :mod:`raygrid.spec.messages`: pydantic errors as one-line messages;
- :mod:`raygrid.spec.entries`, :mod:`raygrid.spec.enums`: names and closed choices.
"""

from __future__ import annotations

from raygrid.spec.checks import MAX_CONFIRM_SEEDS, MAX_TRIALS_PER_CELL
from raygrid.spec.entries import ALL, MIXTURE_SEPARATOR, NONE, resolve_intermediate
from raygrid.spec.enums import CheckpointKeep, DataSource, Direction, Stage
from raygrid.spec.loading import load_spec, parse_spec, parse_spec_text
from raygrid.spec.schema import (
    LEGACY_DEFAULTS,
    with_legacy_defaults,
    RUNTIME_FIELDS,
    AttackSpec,
    CheckpointsSpec,
    ConfirmSpec,
    DataSpec,
    EarlyStopping,
    ModelSpec,
    Resources,
    SamplerSpec,
    SweepSpec,
    TargetSpec,
    Trials,
)
from raygrid.spec.space import (
    DISTRIBUTION_TYPES,
    PARAMS,
    CategoricalDistribution,
    Distribution,
    FloatDistribution,
    IntDistribution,
    Param,
    SearchSpace,
    StageSpace,
    param_problem,
)
from raygrid.spec.storage import check_storage

__all__ = [
    "ALL",
    "DISTRIBUTION_TYPES",
    "LEGACY_DEFAULTS",
    "with_legacy_defaults",
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
    "Resources",
    "SamplerSpec",
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
