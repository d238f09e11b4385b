"""The size of a sweep's per-example store (``results/_examples``), from its spec.

Every confirm run writes, per language of its target, one row per evaluated
example for the clean pass and one per attack usable in that language
(:mod:`raygrid.outcomes`); retrieval targets (no attack goal) write none. The
examples per language are the catalogue's sizes of the split the confirm
stage scores (:mod:`raygrid.estimate.sizes`), capped at
``data.max_eval_examples``. Bytes follow from :data:`BYTES_PER_ROW` and
:data:`BYTES_PER_FILE`, measured on files written by
:func:`raygrid.store.write_run` (``benchmarks/query_speed.py --measure-bytes``).
No torch, no ray: attacks are only asked which languages they support.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raygrid.estimate.sizes import eval_size
from raygrid.grid import Grid, Stage
from raygrid.spec import SweepSpec

#: Bytes per per-example row in a zstd Parquet file of a (run, target,
#: language) at XNLI's size (5,010 examples x 7 passes, realistic outcomes):
#: measured with ``benchmarks/query_speed.py --measure-bytes`` (2026-12-06: 3.64).
#: Classification rows; span-QA and tagging rows carry answer texts and tag
#: lists and are larger.
BYTES_PER_ROW = 3.7
#: Bytes per file besides its rows (Parquet footer and schema).
BYTES_PER_FILE = 6_000


@dataclass(frozen=True)
class LanguagePlan:
    """What one confirm run writes for one language.

    Attributes:
        target: the target task.
        language: the language.
        split: the split scored (``test`` or ``dev``).
        examples: examples evaluated (capped).
        attacks: labels of the spec's attacks usable in ``language``.
        exact: whether ``examples`` is the catalogue's figure (else the
            task's median over its languages).
    """

    target: str
    language: str
    split: str
    examples: int
    attacks: tuple[str, ...]
    exact: bool

    @property
    def rows(self) -> int:
        """Clean rows plus one row per example and usable attack."""
        return self.examples * (1 + len(self.attacks))


@dataclass(frozen=True)
class ExampleStore:
    """The per-example store of a sweep: rows, files and bytes (estimated)."""

    runs: int
    files: int
    rows: int
    bytes: int
    per_target: dict[str, int]
    approximate: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "files": self.files,
            "rows": self.rows,
            "bytes": self.bytes,
            "rows_per_target": dict(self.per_target),
            "bytes_per_row": BYTES_PER_ROW,
            "bytes_per_file": BYTES_PER_FILE,
            "approximate_sizes": list(self.approximate),
        }


def _scored_split(task: Any, language: str, wanted: str | None) -> str:
    """The split the confirm stage scores in ``language`` (as
    :func:`raygrid.evaluate.default_eval_split`, or the spec's ``eval_split``)."""
    from raygrid.tasks import available_splits

    have = [s.value for s in available_splits(task, language)]
    if wanted in have:
        return str(wanted)
    return "test" if "test" in have else "dev"


def _usable(attacks: list[Any], language: str) -> tuple[str, ...]:
    from raygrid.errors import ConfigError

    usable = []
    for attack in attacks:
        try:
            attack.check_language(language)
        except ConfigError:
            continue
        usable.append(attack.label)
    return tuple(usable)


def language_plans(spec: SweepSpec, target: str, languages: tuple[str, ...]) -> list[LanguagePlan]:
    """What one confirm run of ``target`` writes per language (none for a
    target without an attack goal: retrieval)."""
    from raygrid.attacks import get_attack
    from raygrid.errors import ConfigError
    from raygrid.attacks.goals import goal_for
    from raygrid.tasks import get_task

    task = get_task(target)
    try:
        goal_for(task.format)
    except ConfigError:
        return []
    attacks = [get_attack(a.name, **dict(a.params)) for a in spec.attacks]
    cap = spec.data.max_eval_examples
    plans = []
    for language in languages:
        split = _scored_split(task, language, spec.confirm.eval_split)
        size, exact = eval_size(task.name, language, split)
        plans.append(LanguagePlan(task.name, language, split, min(size, cap) if cap is not None else size,
                                  _usable(attacks, language), exact))  # fmt: skip
    return plans


def example_store(spec: SweepSpec, grid: Grid) -> ExampleStore:
    """The estimated per-example store of ``spec``'s sweep (``grid``: its
    expansion, :func:`raygrid.grid.expand`)."""
    runs = files = rows = 0
    per_target: dict[str, int] = {}
    approximate: set[str] = set()
    cache: dict[tuple[str, tuple[str, ...]], list[LanguagePlan]] = {}
    for cell in grid.cells_of(Stage.CONFIRM):
        target = str(cell.target)
        key = (target, tuple(cell.languages))
        if key not in cache:
            cache[key] = language_plans(spec, target, tuple(cell.languages))
        plans = cache[key]
        if not plans:
            continue
        runs += 1
        files += len(plans)
        n = sum(p.rows for p in plans)
        rows += n
        per_target[target] = per_target.get(target, 0) + n
        approximate.update(f"{p.target}:{p.language}/{p.split}" for p in plans if not p.exact)
    size = round(rows * BYTES_PER_ROW + files * BYTES_PER_FILE)
    return ExampleStore(runs, files, rows, size, per_target, tuple(sorted(approximate)))


__all__ = ["BYTES_PER_FILE", "BYTES_PER_ROW", "ExampleStore", "LanguagePlan", "example_store", "language_plans"]
