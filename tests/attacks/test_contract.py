"""Contract tests every registered attack goes through (parametrized over the registry).

Text-producing (fixed) families: determinism, script preservation (a
hypothesis property over corpus sentences of 16 languages / 14 scripts),
constraints (numbers, word budget), QA and tagging label validity, and
refusal of languages they cannot perturb. Model-based families: the
registry contract here, their evaluation in test_evaluate_e2e.py.
"""

from __future__ import annotations

import subprocess
import sys
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raygrid.attacks import ATTACK_NAMES, FIXED_ATTACK_NAMES, Edits, Mode, get_attack
from raygrid.attacks import scripts as sc
from raygrid.attacks.tables import INVISIBLES
from raygrid.errors import ConfigError
from raygrid.tasks import DataSources, get_task, load_rows
from tests.attacks.conftest import SENTENCES

FIXED = list(FIXED_ATTACK_NAMES)


def _attack(name: str, **params: object):  # type: ignore[no-untyped-def]
    return get_attack(name, **params)


def _supported(attack, language: str) -> bool:  # type: ignore[no-untyped-def]
    try:
        attack.check_language(language)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_registry_builds_every_attack(name: str) -> None:
    attack = get_attack(name)
    assert attack.name == name and attack.label == name
    assert isinstance(attack.mode, Mode)
    assert (attack.mode is Mode.FIXED) == (name in FIXED_ATTACK_NAMES)


@pytest.mark.parametrize("name", ATTACK_NAMES)
def test_every_family_declares_what_it_edits(name: str) -> None:
    attack = get_attack(name)
    assert isinstance(attack.edits, Edits)
    if attack.edits is Edits.EMBEDDINGS:  # white box only, and no text to show
        assert attack.mode is Mode.WHITE_BOX and attack.build is None
        with pytest.raises(ConfigError, match="perturbs embeddings, not text"):
            attack.perturb_text("Das Wetter ist heute sonnig.", "de")
    else:
        assert attack.build is not None and attack.transformation("de") is not None
    assert [n for n in ATTACK_NAMES if get_attack(n).edits is Edits.EMBEDDINGS] == ["embedding_pgd"]


def test_unknown_attack_and_parameter_are_one_line_errors() -> None:
    with pytest.raises(ConfigError, match=r"unknown attack 'nope'; allowed: 'char_noise'"):
        get_attack("nope")
    with pytest.raises(ConfigError, match="unknown parameter 'colour'"):
        get_attack("char_noise", colour=1)
    with pytest.raises(ConfigError, match="unknown parameter 'mode'"):
        get_attack("mlm_substitute", mode="adaptive")  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="mode"):
        get_attack("char_noise", mode="white_box")


def test_label_carries_non_default_params() -> None:
    assert get_attack("char_noise", mode="adaptive").label == "char_noise[mode=adaptive]"
    assert get_attack("diacritics", operation="alter", rate=0.5).label == "diacritics[operation=alter,rate=0.5]"


@pytest.mark.parametrize("name", FIXED)
def test_same_seed_same_text_other_seed_other_text(name: str) -> None:
    attack = _attack(name, rate=0.5)
    changed_by_seed = False
    for lang, sentence in SENTENCES:
        if not _supported(attack, lang):
            continue
        a = attack.perturb_text(sentence, lang, seed=7, key=3)
        assert a == attack.perturb_text(sentence, lang, seed=7, key=3)
        changed_by_seed |= a != attack.perturb_text(sentence, lang, seed=8, key=3)
    assert changed_by_seed


def test_same_text_in_another_process_with_another_hash_seed() -> None:
    code = (
        "from raygrid.attacks import get_attack\n"
        "print(get_attack('char_noise', rate=0.5).perturb_text('Das Wetter ist heute sonnig und warm.', 'de', seed=3, key=1))\n"
    )
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": h, "PATH": ""}
        ).stdout
        for h in ("1", "2")
    }
    here = get_attack("char_noise", rate=0.5).perturb_text("Das Wetter ist heute sonnig und warm.", "de", seed=3, key=1)
    assert outs == {here + "\n"}


def _allowed_scripts(attack, language: str, text: str) -> set[str]:  # type: ignore[no-untyped-def]
    t = attack.transformation(language)
    allowed = sc.text_scripts(text)
    for word in text.split():
        allowed |= t.extra_scripts(word)
    for piece in t.segment(text, language) if hasattr(t, "segment") else []:
        allowed |= t.extra_scripts(piece.text)
    return allowed


@pytest.mark.parametrize("name", FIXED)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sample=st.sampled_from(SENTENCES), seed=st.integers(0, 2**32), rate=st.sampled_from([0.1, 0.5, 1.0]))
def test_output_stays_in_the_input_scripts(name: str, sample: tuple[str, str], seed: int, rate: float) -> None:
    lang, sentence = sample
    attack = _attack(name, rate=rate)
    if not _supported(attack, lang):
        return
    out = attack.perturb_text(sentence, lang, seed=seed)
    new_scripts = sc.text_scripts(out) - _allowed_scripts(attack, lang, sentence)
    assert not new_scripts, (lang, sentence, out, new_scripts)
    if name == "char_noise":
        # same-script edits only: every character's script already occurs in the input
        assert sc.text_scripts(out) <= sc.text_scripts(sentence)


@pytest.mark.parametrize("name", FIXED)
@settings(max_examples=40, deadline=None)
@given(sample=st.sampled_from(SENTENCES), seed=st.integers(0, 2**32))
def test_no_stranded_marks_and_clusters_kept(name: str, sample: tuple[str, str], seed: int) -> None:
    lang, sentence = sample
    attack = _attack(name, rate=0.5)
    if not _supported(attack, lang):
        return
    out = attack.perturb_text(sentence, lang, seed=seed)
    # no new grapheme cluster that starts with a combining mark (a stranded
    # vowel sign); \X itself leaves some Myanmar signs apart in the input
    def stranded(text: str) -> int:
        return sum(unicodedata.category(cl[0])[0] == "M" for cl in sc.clusters(text))

    assert stranded(out) <= stranded(sentence), (lang, out)
    if name == "invisible":
        stripped = "".join(c for c in out if c not in INVISIBLES)
        assert stripped == sentence
        inserted = [c for c in out if c in INVISIBLES]
        assert inserted and all(c in INVISIBLES for c in inserted)


@pytest.mark.parametrize("name", FIXED)
def test_numbers_untouched_and_word_budget_kept(name: str) -> None:
    attack = _attack(name, rate=0.25)
    cases = {
        "de": "Im Jahr 1990 lebten 3 Millionen Menschen in der großen Stadt Berlin.",
        "ar": "في عام ١٩٩٠ عاش ٣ ملايين شخص في المدينة الكبيرة.",
        "hi": "वर्ष १९९० में शहर में ३ करोड़ लोग रहते थे।",
        "ru": "В 1990 году в большом городе жили 3 миллиона людей.",
    }
    for lang, text in cases.items():
        if not _supported(attack, lang):
            continue
        for seed in range(20):
            row = {"source": text, "target": ""}
            p = attack.perturb_row(row, "retrieval", lang, seed=seed, key=0)
            digits = lambda s: [c for c in s if unicodedata.category(c) == "Nd"]  # noqa: E731
            assert digits(p.row["source"]) == digits(text)
            assert len(p.edits) <= max(1, int(0.25 * p.n_words + 0.5))


@pytest.mark.parametrize("name", FIXED)
def test_qa_answers_stay_valid(name: str) -> None:
    attack = _attack(name, rate=1.0)
    task = get_task("xquad")
    checked = 0
    for lang in ("de", "ru", "ar", "zh", "th", "hi", "el", "vi"):
        if not _supported(attack, lang):
            continue
        rows = load_rows(task, "test", lang, DataSources(bundled=True))
        for i, row in enumerate(rows):
            p = attack.perturb_row(row, "span_qa", lang, seed=1, key=i)
            for text, start in zip(p.row["answers"]["text"], p.row["answers"]["answer_start"], strict=True):
                assert p.row["context"][start:].startswith(text)
            assert p.row["answers"]["text"] == row["answers"]["text"]
            checked += 1
    assert checked


@pytest.mark.parametrize("name", FIXED)
def test_tagging_alignment_and_entities_kept(name: str) -> None:
    attack = _attack(name, rate=1.0)
    task = get_task("panx")
    checked = 0
    for lang in ("de", "ru", "ar", "zh", "hi", "th", "ja"):
        if not _supported(attack, lang):
            continue
        rows = load_rows(task, "test", lang, DataSources(bundled=True))
        for i, row in enumerate(rows):
            p = attack.perturb_row(row, "tagging", lang, seed=2, key=i, label_names=task.label_names)
            assert len(p.row["tokens"]) == len(row["tokens"]) and p.row["tags"] == row["tags"]
            for token, new, tag in zip(row["tokens"], p.row["tokens"], row["tags"], strict=True):
                assert new and not any(c.isspace() for c in new) or " " in token
                if task.label_names[tag] != "O":
                    assert new == token
            checked += 1
    assert checked


@pytest.mark.parametrize(
    ("name", "language", "message"),
    [
        ("diacritics", "hi", "vowel signs"),
        ("diacritics", "th", "vowel signs"),
        ("diacritics", "zh", "no combining accents"),
        ("diacritics", "en", "nothing to strip"),
        ("homoglyph", "hi", "no confusables table"),
        ("homoglyph", "ko", "no confusables table"),
        ("code_switch", "sw", "no dictionary 'sw-en.txt'"),
        ("char_noise", "xx", "unknown language 'xx'"),
    ],
)
def test_refused_languages_are_clear_errors(name: str, language: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        get_attack(name).check_language(language)


def test_every_fixed_family_changes_text_in_every_language_it_accepts() -> None:
    from raygrid.attacks.scripts import LANGUAGE_SCRIPTS
    from tests.attacks.conftest import corpus

    for name in FIXED:
        attack = _attack(name, rate=1.0, **({"operation": "alter"} if name == "diacritics" else {}))
        for lang in LANGUAGE_SCRIPTS:
            if not _supported(attack, lang):
                continue
            lines = corpus(lang)
            assert any(attack.perturb_text(s, lang, seed=0) != s for s in lines), (name, lang)


def test_code_switch_missing_dictionary_file() -> None:
    with pytest.raises(ConfigError, match="no dictionary .de-en.txt. in ./nonexistent."):
        get_attack("code_switch", dictionary="/nonexistent/de-en.txt").check_language("de")
