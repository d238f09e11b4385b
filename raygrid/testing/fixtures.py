"""Builds the bundled task fixtures from the multilingual mini-corpus.

Run ``python -m raygrid.testing.fixtures`` to regenerate
``raygrid/data/fixtures/<task>/<split>.<language>.jsonl`` (``--check`` only
compares). Generation is deterministic: the same corpus gives byte-identical
files, and a test checks that the committed files equal a fresh generation.

Every fixture row is in the dataset's *own hub column schema* (exactly the
columns and value types the hub rows have: SQuAD ``answers`` as
``{"text": [...], "answer_start": [...]}``, HellaSwag ``endings`` and a string
``label``, PAN-X ``tokens``/``ner_tags``/``langs`` with ClassLabel ids, ...),
so bundled fixtures exercise the same adapters as the hub. CCG, which has no
hub copy, uses raygrid's local schema (``tokens`` + tag strings).

Sizes: English train 48 rows, dev 24, test 24 (the splits the task has);
every other language of a target 12 rows per split it has. Text comes from
``raygrid/data/corpus/<lang>.txt``. The labels follow simple rules a tiny
model can pick up (entailment = the same sentence, contradiction = its words
reversed, paraphrase = identical, the QA answer is the word missing from the
question, ...), so a learning curve is visible, but they are synthetic:
nothing here measures language understanding. Invariants the tests check:
QA answers are true spans, tag sequences are valid BIO with one tag per
token, retrieval rows are true translation pairs (the corpus is parallel:
its last 15 lines, and the UDHR opening, mean the same in every language).

Example:
    >>> files = generate()
    >>> sorted(files)[0]
    'anli/dev.en.jsonl'
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from raygrid.tasks.languages import TATOEBA_CODES, TYDIQA_NAMES, UNSPACED_LANGUAGES
from raygrid.tasks.registry import all_tasks, available_splits
from raygrid.tasks.sources import FIXTURES_DIR
from raygrid.tasks.types import Role, Split, TaskSpec
from raygrid.tasks.xtreme import PANX_TAGS, UPOS_TAGS

CORPUS_DIR = Path(__file__).resolve().parent.parent / "data" / "corpus"

#: Rows per fixture file: (English, split) and every other language.
ENGLISH_ROWS = {Split.TRAIN: 48, Split.DEV: 24, Split.TEST: 24}
OTHER_ROWS = 12

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

    def rng(self, *extra: object) -> random.Random:
        return _rng(self.task.name, self.split.value, self.language, *extra)


Builder = Callable[[Job], list[dict[str, Any]]]


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


def _nli(job: Job) -> Iterator[tuple[int, str, str, int]]:
    """(index, premise, hypothesis, label): 0 = the same sentence, 1 = another
    sentence, 2 = the premise's words reversed; label and premise vary
    together so that rows do not repeat."""
    for i, premise, other, n in _pairs(job):
        label = (i % n + i // n) % 3
        hypothesis = (premise, other, _reverse_words(premise, job.language))[label]
        yield i, premise, hypothesis, label


def build_mnli(job: Job) -> list[dict[str, Any]]:
    return [{"premise": p, "hypothesis": h, "label": y, "idx": i} for i, p, h, y in _nli(job)]


def build_anli(job: Job) -> list[dict[str, Any]]:
    return [
        {"uid": _hex(8, job.task.name, job.split.value, i) + "-" + str(i), "premise": p, "hypothesis": h,
         "label": y, "reason": ""}
        for i, p, h, y in _nli(job)
    ]  # fmt: skip


def build_xnli(job: Job) -> list[dict[str, Any]]:
    return [{"premise": p, "hypothesis": h, "label": y} for _, p, h, y in _nli(job)]


def build_qqp(job: Job) -> list[dict[str, Any]]:
    rows = []
    for i, a, b, n in _pairs(job):
        duplicate = (i % n + i // n) % 2
        rows.append({"question1": a, "question2": a if duplicate else b, "label": duplicate, "idx": i})
    return rows


def build_sst2(job: Job) -> list[dict[str, Any]]:
    rows = []
    for i, a, _, n in _pairs(job):
        positive = (i % n + i // n) % 2
        sentence = a if positive else _reverse_words(a, job.language)
        rows.append({"sentence": sentence.lower(), "label": positive, "idx": i})
    return rows


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


def _qa_examples(job: Job) -> Iterator[tuple[int, str, str, str, int]]:
    """(index, context, question, answer, answer_start); answer_start is -1
    for an unanswerable question (SQuAD v2 only)."""
    lines = corpus(job.language)
    n = len(lines)
    unspaced = job.language in UNSPACED_LANGUAGES
    for i in range(job.rows):
        w = i % (n - 2)
        window = list(lines[w : w + 3])
        context = join_sentences(window, job.language)
        if job.task.name == "squad_v2" and i % 4 == 3:
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


def build_squad(job: Job) -> list[dict[str, Any]]:
    return [
        {"id": _hex(24, job.task.name, job.split.value, i), "title": f"Corpus_{job.language}_{i % 3}",
         "context": c, "question": q, "answers": _answers(a, s)}
        for i, c, q, a, s in _qa_examples(job)
    ]  # fmt: skip


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


def _choice_rows(job: Job, k: int) -> Iterator[tuple[int, int, list[str], int]]:
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


def _upos(tokens: list[str], language: str) -> list[int]:
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
        tags.append(UPOS_TAGS.index(tag))
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
    kind, initial = _ENTITY_LINES[tail_index]  # type: ignore[index]
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


def _bio(n: int, spans: list[tuple[int, int, str]]) -> list[int]:
    tags = ["O"] * n
    for start, end, kind in spans:
        tags[start] = f"B-{kind}"
        for k in range(start + 1, end):
            tags[k] = f"I-{kind}"
    return [PANX_TAGS.index(t) for t in tags]


def _tagged_lines(job: Job) -> Iterator[tuple[int, list[str], int | None]]:
    """(index, tokens, index in the parallel tail or None) per row."""
    lines = corpus(job.language)
    n = len(lines)
    for i in range(job.rows):
        line = (i * 7 + (i // n)) % n  # visits every line, entity lines early
        tail = line - (n - _PARALLEL_TAIL)
        yield i, tokenize(lines[line], job.language), tail if tail >= 0 else None


def build_udpos(job: Job) -> list[dict[str, Any]]:
    return [{"tokens": t, "pos_tags": _upos(t, job.language)} for _, t, _ in _tagged_lines(job)]


def build_panx(job: Job) -> list[dict[str, Any]]:
    return [
        {"tokens": t, "ner_tags": _bio(len(t), _entity_spans(t, tail)), "langs": [job.language] * len(t)}
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


BUILDERS: dict[str, Builder] = {
    "mnli": build_mnli,
    "anli": build_anli,
    "qqp": build_qqp,
    "sst2": build_sst2,
    "squad": build_squad,
    "squad_v2": build_squad,
    "hellaswag": build_hellaswag,
    "commonsenseqa": build_commonsenseqa,
    "cosmosqa": build_cosmosqa,
    "ccg": build_ccg,
    "xnli": build_xnli,
    "pawsx": build_pawsx,
    "udpos": build_udpos,
    "panx": build_panx,
    "xquad": build_xquad,
    "mlqa": build_mlqa,
    "tydiqa": build_tydiqa,
    "bucc": build_bucc,
    "tatoeba": build_tatoeba,
}


# --------------------------------------------------------------------- driving


def jobs() -> list[Job]:
    """Every fixture file, in catalogue order."""
    out = []
    for task in all_tasks():
        for language in task.languages:
            for split in available_splits(task, language):
                english = language == "en" or task.role is Role.INTERMEDIATE
                out.append(Job(task, split, language, ENGLISH_ROWS[split] if english else OTHER_ROWS))
    return out


def generate() -> dict[str, str]:
    """Relative path (``<task>/<split>.<lang>.jsonl``) -> file text, for every fixture."""
    files: dict[str, str] = {}
    for job in jobs():
        rows = BUILDERS[job.task.name](job)
        if len(rows) != job.rows:  # pragma: no cover - a generator bug
            raise AssertionError(f"{job}: built {len(rows)} rows, wanted {job.rows}")
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        files[f"{job.task.name}/{job.split.value}.{job.language}.jsonl"] = text
    return files


def differences(root: Path = FIXTURES_DIR) -> list[str]:
    """Relative paths where ``root`` differs from a fresh generation (changed,
    missing or stale files); empty when the committed fixtures are current."""
    fresh = generate()
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*.jsonl")} if root.is_dir() else set()
    changed = [
        rel for rel, text in fresh.items()
        if rel not in on_disk or (root / rel).read_text(encoding="utf-8") != text
    ]  # fmt: skip
    return sorted(changed + sorted(on_disk - set(fresh)))


def write(root: Path = FIXTURES_DIR) -> int:
    """Writes every fixture under ``root`` (removing stale ``.jsonl`` files); returns the file count."""
    fresh = generate()
    if root.is_dir():
        for stale in root.rglob("*.jsonl"):
            if stale.relative_to(root).as_posix() not in fresh:
                stale.unlink()
    for rel, text in fresh.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return len(fresh)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m raygrid.testing.fixtures", description="Regenerate raygrid's bundled task fixtures."
    )
    parser.add_argument("--root", type=Path, default=FIXTURES_DIR, help="output folder (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="only report files that differ; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        diff = differences(args.root)
        for rel in diff:
            print(f"out of date: {rel}")
        return 1 if diff else 0
    count = write(args.root)
    size = sum(p.stat().st_size for p in args.root.rglob("*.jsonl"))
    print(f"wrote {count} fixture files ({size / 1024:.0f} KiB) under {args.root}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
