"""Word segmentation and script helpers on the scripts without spaces."""

from __future__ import annotations

from raygrid.attacks.scripts import alphabet, clusters, script_of
from raygrid.attacks.segment import segment, words
from tests.attacks.conftest import SENTENCES


def test_pieces_rebuild_the_text() -> None:
    for lang, s in SENTENCES:
        assert "".join(p.text for p in segment(s, lang)) == s


def test_unspaced_languages() -> None:
    assert words("我爱北京。", "zh") == ["我", "爱", "北", "京"]
    assert words("今日は晴れていて暖かいです。", "ja") == ["今日", "は", "晴", "れていて", "暖", "かいです"]
    assert words("เกิดมา", "th") == ["เกิ", "ด", "มา"]  # leading vowel joins its consonant
    assert words("လည်းကောင်း", "my") == ["လည်း", "ကောင်း"]
    assert words("Hallo, Welt! 1990", "de") == ["Hallo", "Welt", "1990"]


def test_scripts_and_alphabets() -> None:
    assert [script_of(c) for c in "aжλاक ก中あア한"] == [
        "Latin", "Cyrillic", "Greek", "Arabic", "Devanagari", "Common", "Thai", "Han", "Hiragana", "Katakana", "Hangul",
    ]  # fmt: skip
    assert clusters("स्ते") == ["स्ते"]
    de = alphabet("Latin", "de")
    assert "ß" in de.letters and "ñ" not in de.letters
    assert all(script_of(c) == "Devanagari" for c in alphabet("Devanagari", "hi").bases)
