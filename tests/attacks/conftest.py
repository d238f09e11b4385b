"""Shared samples for the attack tests: corpus sentences in several scripts."""

from __future__ import annotations

from importlib import resources

#: Languages covering the scripts of the catalogue the contract tests sample.
SAMPLE_LANGUAGES = ("de", "vi", "ru", "el", "ar", "he", "hi", "bn", "ta", "th", "my", "ka", "zh", "ja", "ko", "yo")


def corpus(language: str) -> list[str]:
    text = (resources.files("raygrid") / "data" / "corpus" / f"{language}.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


SENTENCES: list[tuple[str, str]] = [(lang, s) for lang in SAMPLE_LANGUAGES for s in corpus(lang)[:6]]
