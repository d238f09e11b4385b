"""Evaluate a model under attacks: the API the sweep's confirm stage calls.

:func:`evaluate_attacks` runs each attack on the same rows of one (task,
language) and returns one :class:`AttackResult` per attack;
:func:`evaluate_with_examples` also returns the per-example outcomes of the
clean pass and of every attack (:mod:`raygrid.outcomes`), which
:func:`example_frame` turns into the store's per-example rows;
:func:`to_result_rows` turns results into :class:`raygrid.store.ResultRow`
objects (``attack=<label>``, ``metric`` in
:data:`raygrid.attacks.metrics.ATTACK_METRICS`).

"Accuracy" is the task's primary metric: accuracy for classification and
multiple choice (then ``clean_accuracy`` / ``robust_accuracy`` equal
TextAttack's original accuracy / accuracy under attack), F1 for span QA and
PAN-X, token accuracy for UD-POS -- computed by the format's own ``score``
on the clean rows and on the final attacked rows (skipped examples keep
their clean row).

Example:
    >>> results = evaluate_attacks(model, tokenizer, get_task("xnli"), "de", rows,
    ...                            [get_attack("char_noise")], seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygrid.attacks.attack import Attack, Edits, Mode, example_rng
from raygrid.attacks.goals import goal_for
from raygrid.attacks.metrics import ATTACK_METRICS, FAILED, SKIPPED, SUCCESSFUL, Outcome, counts, summarize
from raygrid.attacks.search import greedy_search
from raygrid.formats import EvalSettings, get_format
from raygrid.outcomes import CLEAN_STATUS, EXAMPLE_COLUMNS
from raygrid.store import ResultRow
from raygrid.tasks.types import TaskSpec

#: Examples per (task, language, attack) written to the sample file.
SAMPLE_SIZE = 20


@dataclass(frozen=True)
class AttackResult:
    """Metrics of one attack on one (task, language)."""

    attack: str
    task: str
    language: str
    n_examples: int
    n_successful: int
    n_failed: int
    n_skipped: int
    clean_accuracy: float
    robust_accuracy: float
    attack_success_rate: float
    mean_words_perturbed: float
    mean_queries: float
    examples_per_second: float
    seconds: float

    def metrics(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in ATTACK_METRICS}


@dataclass(frozen=True)
class AttackEvaluation:
    """What :func:`evaluate_with_examples` measured on one (task, language).

    Attributes:
        results: one :class:`AttackResult` per attack, in order.
        examples: per-example outcome records: the clean pass (``attack``
            ``none``), then every attack's, each with the columns of
            :data:`raygrid.outcomes.EXAMPLE_COLUMNS` that do not describe
            the run (:data:`EXAMPLE_FIELDS`) plus ``task`` and ``language``.
    """

    results: list[AttackResult]
    examples: list[dict[str, Any]]


#: The per-example columns an evaluation fills (the rest describe the run:
#: :func:`example_frame` adds them).
EXAMPLE_FIELDS: tuple[str, ...] = (
    "attack", "example_key", "gold", "clean_prediction", "clean_score", "clean_correct", "attacked_prediction",
    "attacked_score", "survived", "status", "perturbation_rate", "queries",
)  # fmt: skip

#: The row field that holds the gold label, per format (default ``label``).
_GOLD_FIELD = {"span_qa": "answers", "tagging": "tags"}


def _key(row: Mapping[str, Any], index: int) -> object:
    return row.get("id") if row.get("id") not in (None, "") else index


def example_keys(data: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each row's stable example key: its ``id`` where it has one, else its
    index in the (seeded) subsample, as text; an ``id`` seen before gets
    ``#<n>`` (its n-th repeat), so keys are unique within a language."""
    seen: dict[str, int] = {}
    keys = []
    for i, row in enumerate(data):
        key = str(_key(row, i))
        n = seen.get(key, 0)
        seen[key] = n + 1
        keys.append(key if n == 0 else f"{key}#{n}")
    return keys


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _texts(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {f: row.get(f) for f in fields if f in row}


def evaluate_attacks(
    model: Any,
    tokenizer: Any,
    task: TaskSpec,
    language: str,
    rows: Any,
    attacks: Sequence[Attack],
    *,
    settings: EvalSettings = EvalSettings(),
    seed: int = 0,
    max_examples: int | None = None,
    sample_dir: str | Path | None = None,
    qa_f1_threshold: float = 0.5,
) -> list[AttackResult]:
    """Runs every attack on ``rows`` of ``task`` in ``language``
    (:func:`evaluate_with_examples` without the per-example outcomes)."""
    return evaluate_with_examples(
        model, tokenizer, task, language, rows, attacks, settings=settings, seed=seed, max_examples=max_examples,
        sample_dir=sample_dir, qa_f1_threshold=qa_f1_threshold,
    ).results  # fmt: skip


def evaluate_with_examples(
    model: Any,
    tokenizer: Any,
    task: TaskSpec,
    language: str,
    rows: Any,
    attacks: Sequence[Attack],
    *,
    settings: EvalSettings = EvalSettings(),
    seed: int = 0,
    max_examples: int | None = None,
    sample_dir: str | Path | None = None,
    qa_f1_threshold: float = 0.5,
) -> AttackEvaluation:
    """Runs every attack on ``rows`` of ``task`` in ``language``, after one
    clean pass over them; with no attacks, the clean pass alone.

    Args:
        model: the trained model (with its head) under attack.
        tokenizer: its tokenizer.
        task: the task (its format selects goal, fields and metric).
        language: the rows' language.
        rows: canonical rows (a ``datasets.Dataset`` or a list of dicts).
        attacks: from :func:`raygrid.attacks.get_attack`.
        settings: prediction settings.
        seed: seeds fixed perturbations and the searches' candidate draws.
        max_examples: attack only the first N rows.
        sample_dir: where to write ``<task>.<language>.<attack>.jsonl``
            samples (id, original, perturbed, gold, clean and attacked
            prediction); ``None``: no samples.
        qa_f1_threshold: span QA goal threshold.

    Returns:
        One :class:`AttackResult` per attack, in order, and the per-example
        outcomes of the clean pass and of every attack on the same rows.

    Raises:
        ConfigError: a family that cannot perturb ``language``, or a task
            format no goal is defined for.
    """
    from raygrid.attacks.victim import RowTable, Victim

    data = [dict(r) for r in rows] if not isinstance(rows, list) else [dict(r) for r in rows]
    if max_examples is not None:
        data = data[:max_examples]
    goal = goal_for(task.format, language=language, qa_f1_threshold=qa_f1_threshold)
    for attack in attacks:  # fail before any model work
        attack.check_language(language)
    fmt = get_format(task.format)
    victim = Victim(model, tokenizer, task, settings)
    started = time.perf_counter()
    clean = victim.query(data)
    clean_seconds = time.perf_counter() - started
    clean_preds = [goal.prediction(o) for o in clean]
    clean_metric = fmt.score(clean_preds, RowTable(data), task, language=language)[task.metric]
    skipped = [goal.skipped(o, r) for o, r in zip(clean, data, strict=True)]
    keys = example_keys(data)
    gold_field = _GOLD_FIELD.get(task.format.value, "label")
    golds = [_json(r.get(gold_field)) for r in data]
    clean_json = [_json(p) for p in clean_preds]
    clean_scores = [goal.example_score(o, r) for o, r in zip(clean, data, strict=True)]
    examples: list[dict[str, Any]] = [
        {"task": task.name, "language": language, "attack": "none", "example_key": keys[i], "gold": golds[i],
         "clean_prediction": clean_json[i], "clean_score": clean_scores[i], "clean_correct": not skipped[i],
         "attacked_prediction": None, "attacked_score": math.nan, "survived": None, "status": CLEAN_STATUS,
         "perturbation_rate": math.nan, "queries": 1}
        for i in range(len(data))
    ]  # fmt: skip
    results: list[AttackResult] = []
    for attack in attacks:
        t0 = time.perf_counter()
        victim.queries = 0
        if attack.mode is Mode.WHITE_BOX:
            from raygrid.attacks.whitebox import run_white_box

            finals, outs, outcomes = run_white_box(attack, victim, goal, data, clean, skipped, language, seed=seed)
        elif attack.mode is Mode.FIXED:
            finals, outs, outcomes = _fixed(attack, victim, goal, data, clean, skipped, language, seed)
        else:
            finals, outs, outcomes = _adaptive(attack, victim, goal, data, clean, skipped, language, seed)
        seconds = time.perf_counter() - t0 + clean_seconds
        summary = summarize(outcomes, seconds=seconds)
        c = counts(outcomes)
        if task.format.value in ("span_qa", "tagging"):
            preds = [goal.prediction(o) for o in outs]
            summary["clean_accuracy"] = float(clean_metric)
            summary["robust_accuracy"] = float(fmt.score(preds, RowTable(finals), task, language=language)[task.metric])
        if attack.edits is Edits.EMBEDDINGS:
            summary["mean_words_perturbed"] = math.nan  # no words: the perturbation is in embedding space
        result = AttackResult(
            attack=attack.label,
            task=task.name,
            language=language,
            n_examples=len(data),
            n_successful=c[SUCCESSFUL],
            n_failed=c[FAILED],
            n_skipped=c[SKIPPED],
            seconds=seconds,
            **summary,
        )
        results.append(result)
        embeddings = attack.edits is Edits.EMBEDDINGS
        for i, (out, final, outcome) in enumerate(zip(outs, finals, outcomes, strict=True)):
            examples.append(
                {"task": task.name, "language": language, "attack": attack.label, "example_key": keys[i],
                 "gold": golds[i], "clean_prediction": clean_json[i], "clean_score": clean_scores[i],
                 "clean_correct": not skipped[i], "attacked_prediction": _json(goal.prediction(out)),
                 "attacked_score": clean_scores[i] if skipped[i] else goal.example_score(out, final),
                 "survived": (not skipped[i]) and outcome.status != SUCCESSFUL, "status": outcome.status,
                 "perturbation_rate": math.nan if embeddings else float(outcome.words_perturbed),
                 "queries": int(outcome.queries)}
            )  # fmt: skip
        if sample_dir is not None:
            _write_sample(Path(sample_dir), task, language, attack, data, finals, clean, outs, goal, outcomes)
    return AttackEvaluation(results, examples)


def _fixed(attack: Attack, victim: Any, goal: Any, data: list[dict[str, Any]], clean: list[Any], skipped: list[bool], language: str, seed: int) -> Any:
    label_names = victim.task.label_names
    perturbed = [
        attack.perturb_row(r, victim.format, language, seed=seed, key=_key(r, i), label_names=label_names)
        for i, r in enumerate(data)
    ]
    todo = [i for i, s in enumerate(skipped) if not s]
    outs = list(clean)
    for i, o in zip(todo, victim.query([perturbed[i].row for i in todo]), strict=True):
        outs[i] = o
    finals, outcomes = [], []
    for i, r in enumerate(data):
        if skipped[i]:
            finals.append(r)
            outcomes.append(Outcome(SKIPPED, 0.0, 1))
            continue
        finals.append(perturbed[i].row)
        ok = goal.succeeded(outs[i], r, clean[i])
        outcomes.append(Outcome(SUCCESSFUL if ok else FAILED, perturbed[i].fraction_changed, 2))
    return finals, outs, outcomes


def _adaptive(attack: Attack, victim: Any, goal: Any, data: list[dict[str, Any]], clean: list[Any], skipped: list[bool], language: str, seed: int) -> Any:
    transformation = attack.transformation(language)
    if hasattr(transformation, "bind"):
        transformation.bind(victim)
    finals, outs, outcomes = [], [], []
    for i, r in enumerate(data):
        if skipped[i]:
            finals.append(r)
            outs.append(clean[i])
            outcomes.append(Outcome(SKIPPED, 0.0, 1))
            continue
        doc = attack.document(r, victim.format, language, label_names=victim.task.label_names)
        result = greedy_search(
            doc,
            transformation,
            goal,
            victim.query,
            clean[i],
            rng=example_rng(seed, attack.label, language, _key(r, i)),
            max_words=attack.word_budget(doc.n_words, fixed=False),
            query_budget=attack.query_budget,
            candidates_per_word=attack.candidates_per_word,
            mask_text=victim.mask_text,
        )
        finals.append(result.row)
        outs.append(result.output)
        fraction = len(result.edits) / doc.n_words if doc.n_words else 0.0
        outcomes.append(Outcome(SUCCESSFUL if result.succeeded else FAILED, fraction, 1 + result.queries))
    return finals, outs, outcomes


def _write_sample(
    root: Path,
    task: TaskSpec,
    language: str,
    attack: Attack,
    data: Sequence[Mapping[str, Any]],
    finals: Sequence[Mapping[str, Any]],
    clean: Sequence[Any],
    outs: Sequence[Any],
    goal: Any,
    outcomes: Sequence[Outcome],
) -> Path:
    from raygrid.attacks.document import FORMAT_FIELDS

    fields = FORMAT_FIELDS[task.format]
    gold_key = _GOLD_FIELD.get(task.format.value, "label")
    root.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "._-=" else "_" for c in attack.label)
    path = root / f"{task.name}.{language}.{safe}.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(min(SAMPLE_SIZE, len(data))):
            record = {
                "id": _key(data[i], i),
                "status": outcomes[i].status,
                "original": _texts(data[i], fields),
                "perturbed": _texts(finals[i], fields),
                "gold": data[i].get(gold_key),
                "clean_prediction": goal.prediction(clean[i]),
                "attacked_prediction": goal.prediction(outs[i]),
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def to_result_rows(
    results: Sequence[AttackResult], *, run_key: str, split: str, **fields: Any
) -> list[ResultRow]:
    """Result rows ``(run_key, task, language, split, attack, metric)`` for
    every metric of :data:`~raygrid.attacks.metrics.ATTACK_METRICS`."""
    return [
        ResultRow(
            run_key=run_key,
            task=r.task,
            language=r.language,
            split=split,
            metric=metric,
            value=value,
            attack=r.attack,
            n_examples=r.n_examples,
            **fields,
        )
        for r in results
        for metric, value in r.metrics().items()
    ]


def example_frame(
    examples: Sequence[Mapping[str, Any]],
    *,
    run_key: str,
    split: str,
    intermediate_checkpoint: str = "",
    **fields: Any,
) -> Any:
    """Per-example records (:attr:`AttackEvaluation.examples`) as the store's
    per-example rows: a pandas DataFrame with the columns of
    :data:`raygrid.outcomes.EXAMPLE_COLUMNS` plus ``task`` and ``language``.
    ``fields`` are those of the run's aggregate rows (``stage``,
    ``intermediate``, ``seed``, ``cell_key``; others, such as ``model``, are
    not per-example columns and are left out)."""
    import pandas as pd

    from raygrid.version import SCHEMA_VERSION

    run = {
        "run_key": run_key,
        "split": split,
        "stage": str(fields.get("stage", "cell")),
        "intermediate": str(fields.get("intermediate", "none")),
        "intermediate_checkpoint": intermediate_checkpoint,
        "seed": int(fields.get("seed", 0)),
        "cell_key": str(fields.get("cell_key", "")),
        "schema_version": SCHEMA_VERSION,
    }
    frame = pd.DataFrame([{**run, **record} for record in examples], columns=[*EXAMPLE_COLUMNS, "task", "language"])
    return frame


@dataclass(frozen=True)
class AttackRows:
    """What :func:`attack_rows` produced: the aggregate result rows and the
    per-example rows (a DataFrame, :func:`example_frame`)."""

    rows: list[ResultRow]
    examples: Any


def attack_rows(
    *,
    model: Any,
    tokenizer: Any,
    task: str | TaskSpec,
    languages: Sequence[str],
    splits: Sequence[Any],
    attacks: Sequence[tuple[str, Mapping[str, Any]]],
    sources: Any,
    settings: EvalSettings = EvalSettings(),
    seed: int = 0,
    max_examples: int | None = None,
    run_key: str,
    sample_dir: str | Path | None = None,
    fields: Mapping[str, Any] | None = None,
    intermediate_checkpoint: str = "",
) -> AttackRows:
    """The sweep's confirm stage: every spec attack on every language, and
    the per-example outcomes (clean and attacked) of every language.

    ``attacks`` are ``(name, params)`` pairs of the spec (unknown names and
    bad parameters raise ConfigError); ``splits[i]`` is the split scored for
    ``languages[i]``. A family that refuses a language (diacritics on Hindi)
    yields no rows for that (language, attack) pair instead of failing the
    whole unit: the spec applies one suite to every language. A language no
    attack can perturb (or a suite without attacks) still gets its clean
    per-example rows, from a clean pass alone; a task format without an
    attack goal (retrieval) gets none. ``seed`` draws the example subsample
    and seeds the perturbations: the sweep passes its data seed, so every
    run of a (target, language) sees the same examples and, for fixed
    attacks, the same perturbed texts.
    """
    from raygrid.attacks.registry import get_attack
    from raygrid.errors import ConfigError
    from raygrid.tasks import get_task, load_rows

    import pandas as pd

    spec = get_task(task) if isinstance(task, str) else task
    built = [get_attack(name, **dict(params)) for name, params in attacks]
    try:
        goal_for(spec.format)
        has_goal = True
    except ConfigError:
        has_goal = False
    out: list[ResultRow] = []
    frames = []
    for language, split in zip(languages, splits, strict=True):
        usable = []
        for attack in built:
            try:
                attack.check_language(language)
                usable.append(attack)
            except ConfigError:
                continue
        if not usable and not has_goal:
            continue
        rows = load_rows(spec, split, language, sources, max_examples=max_examples, seed=seed)
        evaluation = evaluate_with_examples(
            model, tokenizer, spec, language, rows, usable, settings=settings, seed=seed, sample_dir=sample_dir
        )
        split_name = getattr(split, "value", str(split))
        out.extend(to_result_rows(evaluation.results, run_key=run_key, split=split_name, **dict(fields or {})))
        frames.append(example_frame(
            evaluation.examples, run_key=run_key, split=split_name, intermediate_checkpoint=intermediate_checkpoint,
            **dict(fields or {}),
        ))  # fmt: skip
    examples = pd.concat(frames, ignore_index=True) if frames else example_frame([], run_key=run_key, split="")
    return AttackRows(out, examples)


__all__ = [
    "EXAMPLE_FIELDS",
    "SAMPLE_SIZE",
    "AttackEvaluation",
    "AttackResult",
    "AttackRows",
    "attack_rows",
    "evaluate_attacks",
    "evaluate_with_examples",
    "example_frame",
    "example_keys",
    "to_result_rows",
]
