"""Zero-shot evaluation of a model on every requested language of a task.

Model selection never looks at non-English data (the zero-shot protocol of
XTREME and Phang et al. 2020): this module only *measures* a model that was
chosen on English dev data.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raygrid.errors import ConfigError, unknown
from raygrid.formats import EvalSettings, get_format
from raygrid.store import ResultRow
from raygrid.tasks.types import Split, TaskSpec

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn
    from transformers import PreTrainedTokenizerBase

    from raygrid.tasks.sources import DataSources


@dataclass(frozen=True)
class LanguageResult:
    """Metrics of one model on one language of one task."""

    language: str
    split: Split
    metrics: dict[str, float]
    n_examples: int
    seconds: float


def default_eval_split(task: TaskSpec, language: str) -> Split:
    """Test where the task has one in ``language`` (XTREME reports test),
    else dev (XQuAD, TyDiQA-GoldP and Tatoeba have one labelled split)."""
    from raygrid.tasks import available_splits

    return Split.TEST if Split.TEST in available_splits(task, language) else Split.DEV


def check_languages(task: TaskSpec, languages: Sequence[str]) -> tuple[str, ...]:
    """Validates requested languages against the task's list."""
    for language in languages:
        if language not in task.languages:
            raise ConfigError(unknown(f"language for task {task.name!r}:", language, task.languages))
    return tuple(languages)


def evaluate_languages(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskSpec,
    languages: Sequence[str],
    sources: DataSources,
    *,
    split: Split | None = None,
    settings: EvalSettings = EvalSettings(),
    max_examples: int | None = None,
    seed: int = 0,
) -> list[LanguageResult]:
    """Evaluates ``model`` on ``task`` in each language.

    Formats that calibrate on dev data (BUCC's similarity threshold) are
    calibrated per language on that language's dev split, then scored on
    ``split``, as XTREME does.

    Args:
        model: the trained model (a bare encoder for retrieval tasks).
        tokenizer: its tokenizer.
        task: the target task.
        languages: language codes of ``task``.
        sources: where the data comes from.
        split: which split to score; default :func:`default_eval_split`
            per language.
        settings: prediction settings (device, batch size, lengths).
        max_examples: cap per language (seeded subsample).
        seed: seeds the subsample.

    Returns:
        One :class:`LanguageResult` per language, in the order given.
    """
    from raygrid.tasks import available_splits, load_rows

    languages = check_languages(task, languages)
    fmt = get_format(task.format)
    calibrate = getattr(fmt, "calibrate", None)
    model.eval()
    results: list[LanguageResult] = []
    for language in languages:
        started = time.perf_counter()
        language_split = split or default_eval_split(task, language)
        rows = load_rows(task, language_split, language, sources, max_examples=max_examples, seed=seed)
        calibration: Any = None
        if calibrate is not None and language_split is not Split.DEV and Split.DEV in available_splits(task, language):
            dev = load_rows(task, Split.DEV, language, sources, max_examples=max_examples, seed=seed)
            calibration = calibrate(fmt.predict(model, dev, tokenizer, task, settings), dev, task)
        predictions = fmt.predict(model, rows, tokenizer, task, settings)
        metrics = fmt.score(predictions, rows, task, calibration=calibration, language=language)
        results.append(
            LanguageResult(
                language=language,
                split=language_split,
                metrics={k: float(v) for k, v in metrics.items()},
                n_examples=len(rows),
                seconds=time.perf_counter() - started,
            )
        )
    return results


def to_rows(results: Sequence[LanguageResult], *, run_key: str, task: str, **fields: Any) -> list[ResultRow]:
    """Result rows keyed (run_key, task, language, split, attack, metric)."""
    return [
        ResultRow(
            run_key=run_key,
            task=task,
            language=r.language,
            split=r.split.value,
            metric=metric,
            value=value,
            n_examples=r.n_examples,
            **fields,
        )
        for r in results
        for metric, value in sorted(r.metrics.items())
    ]
