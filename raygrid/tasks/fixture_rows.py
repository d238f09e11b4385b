"""Row builders of the bundled task fixtures, one per hub column schema.

A catalogue entry names its builder (:attr:`raygrid.tasks.TaskSpec.fixture`);
:mod:`raygrid.testing.fixtures` runs them over every task, split and
language and writes the files. This module imports nothing of the catalogue
but its vocabulary (:mod:`raygrid.tasks.types`, :mod:`raygrid.tasks.languages`),
so catalogue modules can import it.

Builders for the GLUE layouts are parametrised (:class:`PairRows`,
:class:`SingleRows`): a new classification task with a known hub schema
names its columns and how each label's text is made. The others build one
dataset's schema each.

Example:
    >>> from raygrid.tasks import get_task
    >>> rows = PairRows("premise", "hypothesis", NLI_KINDS)(Job(get_task("mnli"), Split.TRAIN, "en", 3))
    >>> [sorted(r) for r in rows][0], [r["label"] for r in rows]
    (['hypothesis', 'idx', 'label', 'premise'], [0, 1, 2])
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from raygrid.tasks.languages import TATOEBA_CODES, TYDIQA_NAMES, UNSPACED_LANGUAGES
from raygrid.tasks.types import Split, TaskSpec

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus"

#: The corpus files end with 15 parallel lines (13 statements, 2 questions);
#: index in that tail -> the entity type its name belongs to (README of the
#: corpus): the big city, the sister, the train's destination, the reader,
#: the United Nations. ``True`` marks names that open the English sentence.
_ENTITY_LINES: dict[int, tuple[str, bool]] = {
    1: ("LOC", True),
    2: ("PER", False),
    9: ("LOC", False),
    10: ("PER", True),
    11: ("ORG", False),
}
_PARALLEL_TAIL = 15

_EN_UPOS = {
    "the": "DET", "a": "DET", "an": "DET", "this": "DET", "every": "DET", "many": "DET",
    "is": "AUX", "are": "AUX", "was": "AUX", "be": "AUX", "should": "AUX", "does": "AUX",
    "in": "ADP", "at": "ADP", "to": "ADP", "of": "ADP", "for": "ADP", "on": "ADP",
    "with": "ADP", "through": "ADP", "about": "ADP", "near": "ADP", "before": "ADP", "towards": "ADP",
    "and": "CCONJ", "or": "CCONJ", "we": "PRON", "they": "PRON", "our": "PRON", "my": "PRON",
    "one": "NUM", "another": "DET", "where": "ADV", "how": "ADV", "much": "ADV", "slowly": "ADV",
    "today": "NOUN", "yesterday": "NOUN", "old": "ADJ", "big": "ADJ", "fresh": "ADJ", "sunny": "ADJ",
    "warm": "ADJ", "free": "ADJ", "equal": "ADJ", "full": "ADJ",
}  # fmt: skip


# ------------------------------------------------------------------- text tools


def is_punct(token: str) -> bool:
    """Whether every character of ``token`` is punctuation (Unicode P*)."""
    return bool(token) and all(unicodedata.category(ch).startswith("P") for ch in token)


def graphemes(text: str) -> list[str]:
    """User-perceived characters (extended grapheme clusters)."""
    import regex

    return regex.findall(r"\X", text)


def tokenize(text: str, language: str) -> list[str]:
    """Fixture tokens: words with punctuation split off; for scripts without
    spaces (zh, ja, th, my), runs of two grapheme clusters, digits kept whole."""
    tokens: list[str] = []
    for piece in text.split():
        clusters = graphemes(piece)
        lead: list[str] = []
        while clusters and is_punct(clusters[0]):
            lead.append(clusters.pop(0))
        trail: list[str] = []
        while clusters and is_punct(clusters[-1]):
            trail.insert(0, clusters.pop())
        tokens.extend(lead)
        if language in UNSPACED_LANGUAGES:
            tokens.extend(_chunks(clusters))
        elif clusters:
            tokens.append("".join(clusters))
        tokens.extend(trail)
    return tokens


def _chunks(clusters: list[str]) -> Iterator[str]:
    """Groups grapheme clusters: digit runs whole, punctuation alone, text in pairs."""
    buf: list[str] = []
    for cluster in clusters:
        kind = _kind(cluster)
        if buf and (kind != _kind(buf[-1]) or kind == "punct" or (kind == "text" and len(buf) == 2)):
            yield "".join(buf)
            buf = []
        buf.append(cluster)
    if buf:
        yield "".join(buf)


def _kind(cluster: str) -> str:
    return "digit" if cluster.isdigit() else "punct" if is_punct(cluster) else "text"


def sentence_separator(language: str) -> str:
    """What joins two sentences of ``language`` in a paragraph."""
    return "" if language in ("zh", "ja") else " "


def join_sentences(sentences: list[str], language: str) -> str:
    return sentence_separator(language).join(sentences)


@lru_cache(maxsize=None)
def corpus(language: str) -> tuple[str, ...]:
    """The corpus sentences of ``language`` (one per line)."""
    path = CORPUS_DIR / f"{language}.txt"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: corpus file missing; the fixture generator needs one per language")
    lines = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    if len(lines) < _PARALLEL_TAIL + 1:
        raise ValueError(f"{path}: {len(lines)} lines; the generator needs at least {_PARALLEL_TAIL + 1}")
    return lines


def parallel(language: str) -> list[tuple[str, str]]:
    """(sentence in ``language``, its English translation) pairs: the UDHR
    opening joined into one line, then the 15 parallel tail lines."""
    own, en = corpus(language), corpus("en")
    head = (join_sentences(list(own[:-_PARALLEL_TAIL]), language), " ".join(en[:-_PARALLEL_TAIL]))
    return [head, *zip(own[-_PARALLEL_TAIL:], en[-_PARALLEL_TAIL:], strict=True)]


def _rng(*parts: object) -> random.Random:
    return random.Random(zlib.crc32("/".join(map(str, parts)).encode("utf-8")))


def _hex(n: int, *parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode("utf-8")).hexdigest()[:n]


def _words(sentence: str, language: str) -> list[str]:
    return [t for t in tokenize(sentence, language) if not is_punct(t)]


def _reverse_words(sentence: str, language: str) -> str:
    words = _words(sentence, language)
    return ("" if language in UNSPACED_LANGUAGES else " ").join(reversed(words))


def _swap_two(sentence: str, language: str, rng: random.Random) -> str:
    """The sentence with two neighbouring words swapped (PAWS-style scrambling)."""
    unspaced = language in UNSPACED_LANGUAGES
    pieces = tokenize(sentence, language) if unspaced else sentence.split()
    spots = [i for i in range(len(pieces) - 2) if not is_punct(pieces[i]) and not is_punct(pieces[i + 1])]
    if spots:
        i = rng.choice(spots)
        pieces[i], pieces[i + 1] = pieces[i + 1], pieces[i]
    return ("" if unspaced else " ").join(pieces)


# ----------------------------------------------------------------- row builders


@dataclass(frozen=True)
class Job:
    """One fixture file to build."""

    task: TaskSpec
    split: Split
    language: str
    rows: int

    @property
    def hub_split(self) -> str:
        if self.task.hub is not None:
            return self.task.hub.splits[self.split]
        return {Split.TRAIN: "train", Split.DEV: "validation", Split.TEST: "test"}[self.split]

    @property
    def label_names(self) -> tuple[str, ...]:
        """The task's class or tag names (index = id); empty without them."""
        return self.task.label_names or ()

    def rng(self, *extra: object) -> random.Random:
        return _rng(self.task.name, self.split.value, self.language, *extra)


def _pairs(job: Job) -> Iterator[tuple[int, str, str, int]]:
    """(index, sentence, other sentence, n) over the language's corpus lines."""
    lines = corpus(job.language)
    n = len(lines)
    for i in range(job.rows):
        a = i % n
        b = (a + 1 + i // n) % n
        if b == a:
            b = (a + 1) % n
        yield i, lines[a], lines[b], n


#: How the second text of a pair (or the one text of a single-sentence task)
#: is made for a label: the sentence itself, another corpus line, or the
#: sentence's words reversed.
PairKind = Literal["same", "other", "reversed"]

NLI_KINDS: tuple[PairKind, ...] = ("same", "other", "reversed")  # entailment, neutral, contradiction


def _labelled(job: Job, kinds: Sequence[PairKind]) -> Iterator[tuple[int, str, str, int]]:
    """(index, sentence, its partner, label): label ``k`` pairs the sentence
    with the text ``kinds[k]`` makes; label and sentence vary together so
    that rows do not repeat where the labels' texts differ."""
    for i, a, other, n in _pairs(job):
        label = (i % n + i // n) % len(kinds)
        kind = kinds[label]
        partner = a if kind == "same" else other if kind == "other" else _reverse_words(a, job.language)
        yield i, a, partner, label


@dataclass(frozen=True)
class PairRows:
    """Rows of a sentence-pair classification dataset in the GLUE layout:
    ``{first: str, second: str, "label": int[, index: int]}``.

    Attributes:
        first: the first text column (``premise``, ``question1``, ...).
        second: the second text column.
        kinds: per label id, how its second text is made (see :data:`PairKind`).
        index: the running-number column (GLUE's ``idx``), or ``None``.

    Example:
        >>> PairRows("sentence1", "sentence2", ("same", "other"))  # a GLUE RTE-like task
        PairRows(first='sentence1', second='sentence2', kinds=('same', 'other'), index='idx')
    """

    first: str
    second: str
    kinds: tuple[PairKind, ...]
    index: str | None = "idx"

    def __call__(self, job: Job) -> list[dict[str, Any]]:
        rows = []
        for i, a, b, label in _labelled(job, self.kinds):
            row: dict[str, Any] = {self.first: a, self.second: b, "label": label}
            if self.index is not None:
                row[self.index] = i
            rows.append(row)
        return rows


@dataclass(frozen=True)
class SingleRows:
    """Rows of a single-sentence classification dataset in the GLUE layout:
    ``{text: str, "label": int[, index: int]}``; label ``k``'s sentence is
    made by ``kinds[k]`` (``"other"`` is not allowed: there is no pair)."""

    text: str
    kinds: tuple[PairKind, ...]
    lowercase: bool = False  # SST-2's sentences are lower case
    index: str | None = "idx"

    def __call__(self, job: Job) -> list[dict[str, Any]]:
        rows = []
        for i, _, sentence, label in _labelled(job, self.kinds):
            row: dict[str, Any] = {self.text: sentence.lower() if self.lowercase else sentence, "label": label}
            if self.index is not None:
                row[self.index] = i
            rows.append(row)
        return rows


def build_anli(job: Job) -> list[dict[str, Any]]:
    return [
        {"uid": _hex(8, job.task.name, job.split.value, i) + "-" + str(i), "premise": p, "hypothesis": h,
         "label": y, "reason": ""}
        for i, p, h, y in _labelled(job, NLI_KINDS)
    ]  # fmt: skip


def build_pawsx(job: Job) -> list[dict[str, Any]]:
    rng = job.rng("swaps")
    rows = []
    for i, a, _, n in _pairs(job):
        paraphrase = (i % n + i // n) % 2
        rows.append(
            {"id": i + 1, "sentence1": a, "sentence2": a if paraphrase else _swap_two(a, job.language, rng),
             "label": paraphrase}
        )  # fmt: skip
    return rows


# -- extractive QA


def _qa_examples(job: Job, *, unanswerable: bool = False) -> Iterator[tuple[int, str, str, str, int]]:
    """(index, context, question, answer, answer_start); with ``unanswerable``
    (SQuAD v2) every fourth question, when possible, is one whose
    answer_start is -1."""
    lines = corpus(job.language)
    n = len(lines)
    unspaced = job.language in UNSPACED_LANGUAGES
    for i in range(job.rows):
        w = i % (n - 2)
        window = list(lines[w : w + 3])
        context = join_sentences(window, job.language)
        if unanswerable and i % 4 == 3:
            outside = lines[(w + 3 + i // n) % n]
            if outside not in window:
                yield i, context, outside, "", -1
                continue
        middle = window[1]
        candidates = [t for t in tokenize(middle, job.language) if not is_punct(t) and len(graphemes(t)) >= 2]
        candidates = candidates or [t for t in tokenize(middle, job.language) if not is_punct(t)]
        digits = [t for t in candidates if any(ch.isdigit() for ch in t)]
        ordered = digits + sorted((t for t in candidates if t not in digits), key=lambda t: (-len(t), t))
        answer = ordered[(i // (n - 2)) % len(ordered)]
        start = len(window[0]) + len(sentence_separator(job.language)) + middle.index(answer)
        question = middle.replace(answer, "…", 1)
        question = question if unspaced else question.rstrip(".!?。？！؟।။") + "?"
        yield i, context, question, answer, start


def _answers(answer: str, start: int) -> dict[str, list[Any]]:
    return {"text": [answer], "answer_start": [start]} if start >= 0 else {"text": [], "answer_start": []}


def build_squad(job: Job, *, unanswerable: bool = False) -> list[dict[str, Any]]:
    return [
        {"id": _hex(24, job.task.name, job.split.value, i), "title": f"Corpus_{job.language}_{i % 3}",
         "context": c, "question": q, "answers": _answers(a, s)}
        for i, c, q, a, s in _qa_examples(job, unanswerable=unanswerable)
    ]  # fmt: skip


def build_squad_v2(job: Job) -> list[dict[str, Any]]:
    """SQuAD v1.1's rows, a quarter of them unanswerable (empty answers)."""
    return build_squad(job, unanswerable=True)


def build_xquad(job: Job) -> list[dict[str, Any]]:
    # XQuAD keeps the SQuAD v1.1 ids, so every language shares them.
    return [
        {"id": _hex(24, "xquad", i), "context": c, "question": q, "answers": _answers(a, s)}
        for i, c, q, a, s in _qa_examples(job)
    ]


def build_mlqa(job: Job) -> list[dict[str, Any]]:
    return [
        {"id": _hex(40, "mlqa", job.split.value, i), "title": f"Corpus {i % 3}", "context": c, "question": q,
         "answers": _answers(a, s)}
        for i, c, q, a, s in _qa_examples(job)
    ]  # fmt: skip


def build_tydiqa(job: Job) -> list[dict[str, Any]]:
    name = TYDIQA_NAMES[job.language]
    return [
        {"id": f"{name}-{int(_hex(15, job.split.value, job.language, i), 16)}-{i % 3}",
         "title": f"Corpus {i % 3}", "context": c, "question": q, "answers": _answers(a, s)}
        for i, c, q, a, s in _qa_examples(job)
    ]  # fmt: skip


# -- multiple choice


def _choice_rows(job: Job, k: int) -> Iterator[tuple[int, int, list[int], int]]:
    """(index, line, k candidate line indices with the right one at ``label``, label)."""
    n = len(corpus(job.language))
    rng = job.rng("choices")
    for i in range(job.rows):
        line = i % n
        others = [j for j in range(n) if j != line]
        rng.shuffle(others)
        label = rng.randrange(k)
        picked = others[: k - 1]
        picked.insert(label, line)
        yield i, line, picked, label


def build_hellaswag(job: Job) -> list[dict[str, Any]]:
    lines = corpus(job.language)
    rows = []
    for i, line, picked, label in _choice_rows(job, 4):
        words = lines[line].split()
        cut = max(1, len(words) // 3)
        endings = []
        for j in picked:
            other = lines[j].split()
            endings.append(" ".join(words[cut:] if j == line else other[max(1, len(other) // 3) :]))
        ctx_a, ctx_b = lines[line - 1], " ".join(words[:cut])
        rows.append(
            {"ind": 100 * i + 7, "activity_label": "Corpus sentences", "ctx_a": ctx_a, "ctx_b": ctx_b,
             "ctx": f"{ctx_a} {ctx_b}", "endings": endings, "source_id": f"raygrid~corpus_{line}",
             "split": {"train": "train", "validation": "val"}[job.hub_split], "split_type": "indomain",
             "label": str(label)}
        )  # fmt: skip
    return rows


def build_commonsenseqa(job: Job) -> list[dict[str, Any]]:
    lines = corpus(job.language)
    rows = []
    for i, line, picked, label in _choice_rows(job, 5):
        words = _words(lines[line], job.language)
        answer = max(words, key=lambda w: (len(w), w))
        question = lines[line].replace(answer, "_", 1)
        texts = []
        for j in picked:
            if j == line:
                texts.append(answer)
            else:
                longest_first = sorted(_words(lines[j], job.language), key=lambda w: (-len(w), w))
                texts.append(next(w for w in longest_first if w != answer))
        rows.append(
            {"id": _hex(32, "csqa", job.split.value, i), "question": question, "question_concept": words[0].lower(),
             "choices": {"label": list("ABCDE"), "text": texts}, "answerKey": "ABCDE"[label]}
        )  # fmt: skip
    return rows


def build_cosmosqa(job: Job) -> list[dict[str, Any]]:
    lines = corpus(job.language)
    rows = []
    for i, line, picked, label in _choice_rows(job, 4):
        context = f"{lines[line - 2]} {lines[line - 1]}"
        row: dict[str, Any] = {
            "id": _hex(30, "cosmos", job.split.value, i).upper() + f"##{_hex(30, 'q', i).upper()}",
            "context": context,
            "question": "Which sentence comes next?",
        }
        for k, j in enumerate(picked):
            row[f"answer{k}"] = lines[j]
        row["label"] = label
        rows.append(row)
    return rows


# -- tagging


def _upos(tokens: list[str], language: str, names: Sequence[str]) -> list[int]:
    tags = []
    for k, token in enumerate(tokens):
        if is_punct(token):
            tag = "PUNCT"
        elif any(ch.isdigit() for ch in token):
            tag = "NUM"
        elif language == "en" and token.lower() in _EN_UPOS:
            tag = _EN_UPOS[token.lower()]
        elif k > 0 and token[:1].isupper():
            tag = "PROPN"
        else:
            tag = ("NOUN", "VERB", "NOUN", "ADJ")[k % 4]
        tags.append(names.index(tag))
    return tags


def _entity_spans(tokens: list[str], tail_index: int | None) -> list[tuple[int, int, str]]:
    """[start, end) token spans of the line's named entity (valid, non-overlapping).

    Heuristic, per the corpus layout: the city and the reader open their
    sentences; elsewhere, in cased scripts, the name is the last word of the
    first capitalised run (the sister), the last capitalised run before the
    time (the train's destination) or the whole first run (the UN). Uncased
    scripts fall back to the second word. Good enough for fixtures, not gold.
    """
    if tail_index not in _ENTITY_LINES:
        return []
    kind, initial = _ENTITY_LINES[tail_index]
    words = [k for k, t in enumerate(tokens) if not is_punct(t) and not any(ch.isdigit() for ch in t)]
    if not words:
        return []
    if initial:
        return [(words[0], words[0] + 1, kind)]
    runs: list[list[int]] = []
    for k in words[1:]:
        if tokens[k][:1].isupper():
            if runs and runs[-1][-1] == k - 1:
                runs[-1].append(k)
            else:
                runs.append([k])
    if not runs:
        start = words[min(1, len(words) - 1)]
        return [(start, start + 1, kind)]
    if kind == "PER":
        return [(runs[0][-1], runs[0][-1] + 1, kind)]
    if kind == "LOC":
        digits = [k for k, t in enumerate(tokens) if any(ch.isdigit() for ch in t)]
        before = [r for r in runs if not digits or r[-1] < digits[0]]
        run = (before or runs)[-1]
        return [(run[0], run[-1] + 1, kind)]
    return [(runs[0][0], runs[0][-1] + 1, kind)]


def _bio(n: int, spans: list[tuple[int, int, str]], names: Sequence[str]) -> list[int]:
    tags = ["O"] * n
    for start, end, kind in spans:
        tags[start] = f"B-{kind}"
        for k in range(start + 1, end):
            tags[k] = f"I-{kind}"
    return [names.index(t) for t in tags]


def _tagged_lines(job: Job) -> Iterator[tuple[int, list[str], int | None]]:
    """(index, tokens, index in the parallel tail or None) per row."""
    lines = corpus(job.language)
    n = len(lines)
    for i in range(job.rows):
        line = (i * 7 + (i // n)) % n  # visits every line, entity lines early
        tail = line - (n - _PARALLEL_TAIL)
        yield i, tokenize(lines[line], job.language), tail if tail >= 0 else None


def build_udpos(job: Job) -> list[dict[str, Any]]:
    names = job.label_names
    return [{"tokens": t, "pos_tags": _upos(t, job.language, names)} for _, t, _ in _tagged_lines(job)]


def build_panx(job: Job) -> list[dict[str, Any]]:
    names = job.label_names
    return [
        {"tokens": t, "ner_tags": _bio(len(t), _entity_spans(t, tail), names), "langs": [job.language] * len(t)}
        for _, t, tail in _tagged_lines(job)
    ]


#: A category outside :data:`raygrid.tasks.ccg.CCG_TAGS`: some CCG fixture rows
#: carry it so that the catch-all mapping is exercised.
RARE_CCG_CATEGORY = "((S[b]\\NP)/NP)/(S[to]\\NP)"

_CCG_WORDS = {
    **dict.fromkeys(("the", "a", "an", "this", "every", "our", "my"), "NP[nb]/N"),
    **dict.fromkeys(("is", "are", "was"), "(S[dcl]\\NP)/(S[adj]\\NP)"),
    **dict.fromkeys(("in", "at", "to", "of", "for", "on", "with", "through", "about", "near", "before"), "PP/NP"),
    **dict.fromkeys(("and", "or"), "conj"),
    **dict.fromkeys(("we", "they"), "NP"),
}


def _ccg_tags(tokens: list[str], row: int) -> list[str]:
    tags = []
    for k, token in enumerate(tokens):
        low = token.lower()
        if token in {".", ",", ":", ";"}:
            tags.append(token)
        elif is_punct(token):
            tags.append(".")
        elif any(ch.isdigit() for ch in token):
            tags.append("N/N")
        elif low in _CCG_WORDS:
            tags.append(_CCG_WORDS[low])
        elif low.endswith("ly"):
            tags.append("(S\\NP)\\(S\\NP)")
        elif k > 0 and low.endswith(("s", "ed")):
            tags.append("(S[dcl]\\NP)/NP")
        else:
            tags.append("N")
    if row % 5 == 4 and "N" in tags:
        tags[tags.index("N")] = RARE_CCG_CATEGORY
    return tags


def build_ccg(job: Job) -> list[dict[str, Any]]:
    return [{"tokens": tokens, "tags": _ccg_tags(tokens, i)} for i, tokens, _ in _tagged_lines(job)]


# -- retrieval


def _retrieval_pairs(job: Job) -> list[tuple[int, str, str]]:
    pairs = parallel(job.language)
    order = list(range(len(pairs)))
    job.rng("pairs").shuffle(order)
    return [(k, *pairs[k]) for k in sorted(order[: job.rows])]


def build_bucc(job: Job) -> list[dict[str, Any]]:
    base = {"validation": 100, "test": 5000}[job.hub_split]
    return [
        {"source_sentence": own, "target_sentence": en, "source_lang": f"{job.language}-{base + k:09d}",
         "target_lang": f"en-{base + 40 + k:09d}"}
        for k, own, en in _retrieval_pairs(job)
    ]  # fmt: skip


def build_tatoeba(job: Job) -> list[dict[str, Any]]:
    # The original xtreme loading script kept each Tatoeba line's line break; the adapter strips it.
    return [
        {"source_sentence": own + "\n", "target_sentence": en + "\n",
         "source_lang": TATOEBA_CODES[job.language], "target_lang": "eng"}
        for _, own, en in _retrieval_pairs(job)
    ]  # fmt: skip


__all__ = [
    "CORPUS_DIR",
    "NLI_KINDS",
    "RARE_CCG_CATEGORY",
    "Job",
    "PairKind",
    "PairRows",
    "SingleRows",
    "build_anli",
    "build_bucc",
    "build_ccg",
    "build_commonsenseqa",
    "build_cosmosqa",
    "build_hellaswag",
    "build_mlqa",
    "build_panx",
    "build_pawsx",
    "build_squad",
    "build_squad_v2",
    "build_tatoeba",
    "build_tydiqa",
    "build_udpos",
    "build_xquad",
    "corpus",
    "graphemes",
    "is_punct",
    "join_sentences",
    "parallel",
    "sentence_separator",
    "tokenize",
]
