"""Goal functions: when an attack has succeeded, per format.

A goal compares the model's output on a perturbed row with the gold labels
(and with the clean output). ``score`` is what the search maximises
(higher = closer to success); ``succeeded`` ends the search; ``skipped``
says the model was already wrong on the clean row (nothing to attack);
``example_score`` is the task's own score of one output (the per-example
outcome rows of :mod:`raygrid.outcomes`).

* classification / multiple choice: untargeted misclassification (TextAttack's
  ``UntargetedClassification``): success = argmax != gold; score =
  1 - p(gold);
* span QA: success = the prediction's F1 against the gold answers falls
  below ``threshold`` (default 0.5); skipped when the clean F1 is already
  below it; score = 1 - F1;
* tagging: success = at least one word the model tagged correctly on the
  clean row is now tagged wrongly (word-level, on the fixed word
  positions, since edits never split or merge tokens); skipped when no word
  was right; score = fraction of those words now wrong.

Per-example scores: 1.0 / 0.0 correctness (classification, multiple
choice), F1 against the best-matching gold answer (span QA), the fraction of
words tagged right (tagging).

Outputs are probability lists (classification, multiple choice), answer
strings (QA) or tag-id lists (tagging).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from raygrid.formats.qa_metrics import gold_answers, qa_f1
from raygrid.tasks.types import FormatName


class Goal(Protocol):
    def skipped(self, clean: Any, row: Mapping[str, Any]) -> bool: ...

    def score(self, output: Any, row: Mapping[str, Any], clean: Any) -> float: ...

    def succeeded(self, output: Any, row: Mapping[str, Any], clean: Any) -> bool: ...

    def prediction(self, output: Any) -> Any: ...

    def example_score(self, output: Any, row: Mapping[str, Any]) -> float: ...


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


@dataclass(frozen=True)
class UntargetedClassification:
    def skipped(self, clean: Sequence[float], row: Mapping[str, Any]) -> bool:
        return _argmax(clean) != int(row["label"])

    def score(self, output: Sequence[float], row: Mapping[str, Any], clean: Any) -> float:
        return 1.0 - float(output[int(row["label"])])

    def succeeded(self, output: Sequence[float], row: Mapping[str, Any], clean: Any) -> bool:
        return _argmax(output) != int(row["label"])

    def prediction(self, output: Sequence[float]) -> int:
        return _argmax(output)

    def example_score(self, output: Sequence[float], row: Mapping[str, Any]) -> float:
        """1.0: the argmax is the gold label; else 0.0."""
        return float(_argmax(output) == int(row["label"]))


@dataclass(frozen=True)
class QAF1Below:
    language: str = "en"
    threshold: float = 0.5

    def _f1(self, answer: str, row: Mapping[str, Any]) -> float:
        return max(qa_f1(answer, gold, self.language) for gold in gold_answers(row["answers"]))

    def skipped(self, clean: str, row: Mapping[str, Any]) -> bool:
        return self._f1(clean, row) < self.threshold

    def score(self, output: str, row: Mapping[str, Any], clean: Any) -> float:
        return 1.0 - self._f1(output, row)

    def succeeded(self, output: str, row: Mapping[str, Any], clean: Any) -> bool:
        return self._f1(output, row) < self.threshold

    def prediction(self, output: str) -> str:
        return output

    def example_score(self, output: str, row: Mapping[str, Any]) -> float:
        """F1 of the answer against the best-matching gold answer."""
        return self._f1(output, row)


@dataclass(frozen=True)
class TaggingWordError:
    def _right(self, clean: Sequence[int], row: Mapping[str, Any]) -> list[int]:
        return [i for i, (p, g) in enumerate(zip(clean, row["tags"], strict=True)) if int(p) == int(g)]

    def skipped(self, clean: Sequence[int], row: Mapping[str, Any]) -> bool:
        return not self._right(clean, row)

    def score(self, output: Sequence[int], row: Mapping[str, Any], clean: Sequence[int]) -> float:
        right = self._right(clean, row)
        if not right:
            return 0.0
        return sum(int(output[i]) != int(row["tags"][i]) for i in right) / len(right)

    def succeeded(self, output: Sequence[int], row: Mapping[str, Any], clean: Sequence[int]) -> bool:
        return self.score(output, row, clean) > 0.0

    def prediction(self, output: Sequence[int]) -> list[int]:
        return [int(x) for x in output]

    def example_score(self, output: Sequence[int], row: Mapping[str, Any]) -> float:
        """The fraction of words tagged right (0.0 for a row without words)."""
        tags = row["tags"]
        if not tags:
            return 0.0
        return sum(int(p) == int(g) for p, g in zip(output, tags, strict=True)) / len(tags)


def goal_for(format: FormatName | str, *, language: str = "en", qa_f1_threshold: float = 0.5) -> Goal:
    """The goal function of a format.

    Raises:
        ConfigError: retrieval (no attack goal is defined for it).
    """
    from raygrid.errors import ConfigError

    fmt = FormatName(format)
    if fmt in (FormatName.CLASSIFICATION, FormatName.MULTIPLE_CHOICE):
        return UntargetedClassification()
    if fmt is FormatName.SPAN_QA:
        return QAF1Below(language=language, threshold=qa_f1_threshold)
    if fmt is FormatName.TAGGING:
        return TaggingWordError()
    raise ConfigError(
        f"attacks are evaluated on classification, multiple_choice, span_qa and tagging tasks; got {fmt.value!r}"
    )


__all__ = ["Goal", "QAF1Below", "TaggingWordError", "UntargetedClassification", "goal_for"]
