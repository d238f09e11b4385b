"""The vocabulary of the task catalogue: roles, formats, splits, and TaskSpec.

A task is data: where its examples live on the Hugging Face hub (dataset id,
config per language, split names), which columns its rows have there, and an
*adapter* that turns one hub row into the canonical row of its format. Format
modules (:mod:`raygrid.formats`) only ever see canonical rows, so a local file
with the hub's columns, a bundled fixture and the hub itself all go through
the same adapter.

Canonical rows, per format:

=================  ==========================================================
classification     ``{"text_a": str, "text_b": str | None, "label": int}``
multiple_choice    ``{"context": str, "question": str, "choices": list[str],
                   "label": int}``
span_qa            ``{"id": str, "question": str, "context": str,
                   "answers": {"text": list[str], "answer_start": list[int]}}``
                   (SQuAD layout; unanswerable = empty lists)
tagging            ``{"tokens": list[str], "tags": list[int]}``
retrieval          ``{"source": str, "target": str}`` (a gold pair; an empty
                   ``target`` marks a source sentence with no translation,
                   an empty ``source`` a target-side distractor)
=================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.tasks.fixture_rows import Job


class Role(str, Enum):
    """Where a task sits in the study's pipeline."""

    INTERMEDIATE = "intermediate"  # phase 2: English intermediate task
    TARGET = "target"  # phase 3: XTREME target, evaluated zero-shot


class FormatName(str, Enum):
    """The input/output shape of a task; one module of raygrid.formats each."""

    CLASSIFICATION = "classification"
    MULTIPLE_CHOICE = "multiple_choice"
    SPAN_QA = "span_qa"
    TAGGING = "tagging"
    RETRIEVAL = "retrieval"


class Split(str, Enum):
    """raygrid's split names; each task maps them to its hub split names."""

    TRAIN = "train"
    DEV = "dev"
    TEST = "test"


#: A hub row -> canonical row function (see the module docstring).
Adapter = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class HubSource:
    """Where a task's data lives on the Hugging Face hub.

    Attributes:
        path: the dataset id, e.g. ``"facebook/xnli"``.
        configs: language code -> hub config name (``{"de": "de"}``); a task
            with one English config maps ``"en"`` to it (or to ``None`` when
            the dataset has no configs).
        splits: raygrid split -> hub split name; a split missing here does
            not exist for the task.
        language_filter: maps a language code to a predicate on hub rows,
            for datasets with all languages in one config (TyDiQA-GoldP).
    """

    path: str
    configs: Mapping[str, str | None]
    splits: Mapping[Split, str]
    language_filter: Callable[[str], Callable[[Mapping[str, Any]], bool]] | None = None


@dataclass(frozen=True)
class Defaults:
    """Per-task training defaults (jiant's X-STILTs scripts; a starting point)."""

    learning_rate: float = 1e-5
    num_epochs: float = 2.0
    batch_size: int = 32  # effective batch (jiant: 32 classification/tagging, 16 QA)
    max_seq_length: int = 256  # 256 classification/tagging, 384 QA, 512 retrieval


@dataclass(frozen=True)
class SplitSizes:
    """Examples per split as the hub serves them, for ``raygrid plan``'s
    estimates (:mod:`raygrid.estimate.sizes`; nothing is downloaded).

    Attributes:
        train: English training examples; ``None`` when the task has no
            training split of its own (a target trained on another task's).
        dev: language -> examples of the dev split.
        test: language -> examples of the test split (for XQuAD, TyDiQA-GoldP
            and Tatoeba the single labelled split, which raygrid calls test).
    """

    train: int | None = None
    dev: Mapping[str, int] = field(default_factory=dict)
    test: Mapping[str, int] = field(default_factory=dict)


class FixtureBuilder(Protocol):
    """Builds the rows of one bundled fixture file, in the task's hub column
    schema (:mod:`raygrid.tasks.fixture_rows` has one per known schema)."""

    def __call__(self, job: Job) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class TaskSpec:
    """One task of the catalogue.

    Attributes:
        name: registry name (lower case, e.g. ``"xnli"``).
        role: intermediate (English) or target (zero-shot languages).
        format: which format module handles it.
        metric: the primary metric name (what model selection maximises).
        languages: language codes it can be evaluated in (ISO 639-1 where
            one exists); intermediate tasks have ``("en",)``.
        hub: its hub source, or ``None`` when no public copy exists and only
            local files can supply it (CCG: CCGbank is LDC-licensed).
        columns: the hub columns a row must have (checked on load, so a local
            file that lacks one fails with a clear error).
        adapter: hub row -> canonical row.
        label_names: class or tag names, index = label id (classification,
            tagging); ``None`` for formats without a label vocabulary.
        train_task: for targets trained on another task's English data (XNLI
            on MNLI, XQuAD and MLQA on SQuAD v1.1), that task's name.
        dev_task: likewise for the English dev set used for model selection;
            defaults to ``train_task``.
        num_choices: multiple choice only: answers per question.
        defaults: training defaults.
        sizes: examples per split (``raygrid plan``'s estimates).
        fixture: builds its bundled fixtures from the mini-corpus
            (``python -m raygrid.testing.fixtures``).
        citation: where the dataset comes from.
    """

    name: str
    role: Role
    format: FormatName
    metric: str
    languages: tuple[str, ...]
    hub: HubSource | None
    columns: tuple[str, ...]
    adapter: Adapter
    label_names: tuple[str, ...] | None = None
    train_task: str | None = None
    dev_task: str | None = None
    num_choices: int | None = None
    defaults: Defaults = field(default_factory=Defaults)
    sizes: SplitSizes = field(default_factory=SplitSizes)
    fixture: FixtureBuilder | None = None
    citation: str = ""

    @property
    def trainable(self) -> bool:
        """Retrieval tasks (BUCC, Tatoeba) have no training data: they use
        the phase-2 encoder directly (Phang et al. 2020, section 3)."""
        return self.format is not FormatName.RETRIEVAL

    @property
    def num_labels(self) -> int | None:
        return len(self.label_names) if self.label_names is not None else None

    def summary(self) -> dict[str, Any]:
        """The JSON object ``raygrid tasks --json`` prints for this task."""
        return {
            "name": self.name,
            "role": self.role.value,
            "format": self.format.value,
            "metric": self.metric,
            "languages": list(self.languages),
            "hub_id": self.hub.path if self.hub else None,
            "hub_configs": dict(self.hub.configs) if self.hub else None,
            "hub_splits": {s.value: n for s, n in self.hub.splits.items()} if self.hub else None,
            "columns": list(self.columns),
            "train_task": self.train_task,
            "dev_task": self.dev_task or self.train_task,
            "label_names": list(self.label_names) if self.label_names else None,
        }
