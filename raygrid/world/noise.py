"""User-written noise: the typos of text nobody edited.

Real QQP is Quora users' questions as typed: misspellings, a letter
dropped or doubled, two letters swapped, a neighbouring key hit. SQuAD's
contexts are edited Wikipedia prose and its questions were written by paid
crowd workers asked for well-formed questions; MNLI's premises are edited
text too. The world can mirror that:
``WorldConfig(typos={"qqp": QQP_TYPOS})`` gives QQP's text columns typos
(both questions, train and dev alike) and leaves every other task clean.
Nothing about the labels changes: a typo'd paraphrase is still a
paraphrase; what training on such text does to a model's robustness is
left to emerge (docs/world.md, "Robustness"). The default world has no
typos (:data:`DEFAULT_TYPOS` is empty): at ``QQP_TYPOS`` they removed
QQP's PAWS-X gain that ``tests/world`` checks (docs/world.md).

The typos are the keyboard's, on the English letters the world's English
uses, and are drawn from their own random stream per file
(:func:`typo_rng`), so a world with and without them has the same
sentences.

Example:
    >>> import random
    >>> add_typos("the big soldier teaches the glad painter.", random.Random(3), rate=0.5)
    'te big solduer teaches he glad paitner.'
    >>> add_typos("the big soldier", random.Random(3), rate=0.0)
    'the big soldier'
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from raygrid.errors import ConfigError

#: Task -> its columns that hold free text (the tasks typos may be given to:
#: the English intermediates whose rows carry no character offsets).
TEXT_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "qqp": ("question1", "question2"),
        "mnli": ("premise", "hypothesis"),
        "anli": ("premise", "hypothesis"),
    }
)

#: Share of QQP's words given one typo in the robustness world: the world's
#: choice, heavier than the real QQP's share of misspelt words, so that a
#: 430k-parameter model trained on 3000 rows sees enough of them.
QQP_TYPOS = 0.2

#: Task -> share of its words given one typo in the default world: none.
DEFAULT_TYPOS: Mapping[str, float] = MappingProxyType({})

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_NEIGHBOURS: dict[str, str] = {}
for _r, _row in enumerate(_ROWS):
    for _c, _key in enumerate(_row):
        _near = [_row[i] for i in (_c - 1, _c + 1) if 0 <= i < len(_row)]
        _near += [_ROWS[r][c] for r in (_r - 1, _r + 1) if 0 <= r < len(_ROWS) for c in (_c, _c + 1) if c < len(_ROWS[r])]
        _NEIGHBOURS[_key] = "".join(_near)

_OPS = ("neighbour", "drop", "double", "swap")


def check_typos(typos: Mapping[str, float]) -> None:
    """Raises :class:`ConfigError` for a task without free-text columns or a rate outside [0, 1]."""
    for task, rate in typos.items():
        if task not in TEXT_COLUMNS:
            raise ConfigError(f"world config: typos: task {task!r}; allowed: {', '.join(sorted(TEXT_COLUMNS))}")
        if not 0.0 <= rate <= 1.0:
            raise ConfigError(f"world config: typos[{task!r}]: rate {rate!r}; allowed: a share in [0, 1]")


def typo_rng(task: str, split: str, language: str, seed: int) -> random.Random:
    """The file's own typo stream (the sentences' stream is untouched by it)."""
    return random.Random(f"typos:{task}:{split}:{language}:{seed}")


def _typo(word: str, rng: random.Random) -> str:
    letters = [i for i, ch in enumerate(word) if ch in _NEIGHBOURS]
    if len(letters) < 2:
        return word
    op = rng.choice(_OPS)
    i = rng.choice(letters[:-1] if op == "swap" else letters)
    if op == "neighbour":
        return word[:i] + rng.choice(_NEIGHBOURS[word[i]]) + word[i + 1 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "double":
        return word[: i + 1] + word[i] + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def add_typos(text: str, rng: random.Random, *, rate: float) -> str:
    """``text`` with each word of two or more letters given one typo with probability ``rate``."""
    return " ".join(_typo(word, rng) if rng.random() < rate else word for word in text.split(" "))


def noisy_rows(rows: list[dict[str, Any]], task: str, rng: random.Random, *, rate: float) -> list[dict[str, Any]]:
    """``rows`` with typos in ``task``'s free-text columns (unchanged at rate 0)."""
    if rate <= 0.0:
        return rows
    columns = TEXT_COLUMNS[task]
    return [{k: add_typos(v, rng, rate=rate) if k in columns and isinstance(v, str) else v for k, v in row.items()} for row in rows]


__all__ = ["DEFAULT_TYPOS", "QQP_TYPOS", "TEXT_COLUMNS", "add_typos", "check_typos", "noisy_rows", "typo_rng"]
