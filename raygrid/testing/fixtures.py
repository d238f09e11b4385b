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
hub copy, uses raygrid's local schema (``tokens`` + tag strings). Each task's
rows come from the builder its catalogue entry names
(:attr:`raygrid.tasks.TaskSpec.fixture`, from :mod:`raygrid.tasks.fixture_rows`).

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
import json
import sys
from pathlib import Path

from raygrid.tasks.registry import all_tasks, available_splits
from raygrid.tasks.sources import FIXTURES_DIR
from raygrid.tasks.types import Role, Split, TaskSpec
from raygrid.tasks.fixture_rows import (  # re-exported: the corpus tools tests and the demo use
    CORPUS_DIR,
    Job,
    corpus,
    graphemes,
    is_punct,
    parallel,
    tokenize,
)

#: Rows per fixture file: (English, split) and every other language.
ENGLISH_ROWS = {Split.TRAIN: 48, Split.DEV: 24, Split.TEST: 24}
OTHER_ROWS = 12


# --------------------------------------------------------------------- driving


def jobs(tasks: tuple[TaskSpec, ...] | None = None) -> list[Job]:
    """Every fixture file of ``tasks`` (default: the catalogue), in order."""
    out = []
    for task in all_tasks() if tasks is None else tasks:
        for language in task.languages:
            for split in available_splits(task, language):
                english = language == "en" or task.role is Role.INTERMEDIATE
                out.append(Job(task, split, language, ENGLISH_ROWS[split] if english else OTHER_ROWS))
    return out


def generate(tasks: tuple[TaskSpec, ...] | None = None) -> dict[str, str]:
    """Relative path (``<task>/<split>.<lang>.jsonl``) -> file text, for every
    fixture of ``tasks`` (default: the catalogue), each built by its task's
    :attr:`~raygrid.tasks.TaskSpec.fixture`."""
    files: dict[str, str] = {}
    for job in jobs(tasks):
        if job.task.fixture is None:
            raise ValueError(f"task {job.task.name!r} has no fixture builder (TaskSpec.fixture)")
        rows = job.task.fixture(job)
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


__all__ = [
    "CORPUS_DIR",
    "ENGLISH_ROWS",
    "OTHER_ROWS",
    "Job",
    "corpus",
    "differences",
    "generate",
    "graphemes",
    "is_punct",
    "jobs",
    "main",
    "parallel",
    "tokenize",
    "write",
]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
