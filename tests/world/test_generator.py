"""The world generator: deterministic, in the catalogue's schemas, in real scripts."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from raygrid.errors import ConfigError
from raygrid.world import WorldConfig, build_world
from raygrid.world.build import write_corpus, write_data
from raygrid.world.grammar import NounPhrase, Proposition, realise
from raygrid.world.lexicon import LANGUAGES, PROFILES, build_lexicon, content_concepts
from raygrid.world.tasks import TARGET_LANGUAGES, lexicons, nli_pair, paraphrase_pair

SMALL = WorldConfig(
    sizes={"intermediate_train": 40, "qa_train": 20, "pawsx_train": 12, "dev": 16, "test": 16},
)
SMALL = replace(SMALL, corpus=replace(SMALL.corpus, lines_per_language=30))


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    write_data(tmp_path / "a", 3, SMALL)
    write_data(tmp_path / "b", 3, SMALL)
    write_data(tmp_path / "c", 4, SMALL)
    write_corpus(tmp_path / "ca", 3, SMALL)
    write_corpus(tmp_path / "cb", 3, SMALL)
    a, b, c = _tree(tmp_path / "a"), _tree(tmp_path / "b"), _tree(tmp_path / "c")
    assert a == b and _tree(tmp_path / "ca") == _tree(tmp_path / "cb")
    assert a.keys() == c.keys() and a != c


def test_every_file_loads_through_load_rows(tmp_path: Path) -> None:
    from raygrid.tasks import DataSources, get_task, load_rows

    files = write_data(tmp_path, 0, SMALL)
    sources = DataSources(local_dirs=[tmp_path])
    expected = {"mnli/train.en", "mnli/dev.en", "anli/train.en", "anli/dev.en", "qqp/train.en", "qqp/dev.en", "squad/train.en", "squad/dev.en",
                "pawsx/train.en"}  # fmt: skip
    for task, langs in TARGET_LANGUAGES.items():
        splits = ("test",) if task == "xquad" else ("dev", "test")
        expected |= {f"{task}/{s}.{lang}" for lang in langs for s in splits}
    assert set(files) == expected
    for name, n in files.items():
        task, rest = name.split("/")
        split, lang = rest.split(".")
        assert lang in get_task(task).languages
        rows = load_rows(task, split, lang, sources)
        assert len(rows) == n == SMALL.sizes["pawsx_train" if name == "pawsx/train.en" else
                                            "intermediate_train" if split == "train" and task != "squad" else
                                            "qa_train" if split == "train" else split]  # fmt: skip
        if task == "anli":  # the hub dataset's own columns, as in the bundled fixture
            first = json.loads((tmp_path / task / f"{split}.{lang}.jsonl").read_text(encoding="utf-8").splitlines()[0])
            assert list(first) == ["uid", "premise", "hypothesis", "label", "reason"]
        if "label" in rows.column_names:
            n_labels = len(get_task(task).label_names)
            assert set(rows["label"]) <= set(range(n_labels)) and len(set(rows["label"])) >= 2


def test_qa_answers_are_spans_of_the_context(tmp_path: Path) -> None:
    write_data(tmp_path, 1, SMALL)
    for path in [tmp_path / "squad" / "train.en.jsonl", *sorted((tmp_path / "xquad").glob("*.jsonl"))]:
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            (text,), (start,) = row["answers"]["text"], row["answers"]["answer_start"]
            assert text and row["context"][start : start + len(text)] == text, (path, row)
            assert text not in row["question"]


def test_languages_are_written_in_their_scripts() -> None:
    from raygrid.attacks.scripts import LANGUAGE_SCRIPT_SETS, word_script

    for code in LANGUAGES:
        lex = build_lexicon(code, 0, 0.4)
        allowed = LANGUAGE_SCRIPT_SETS[code]
        for concept, _ in content_concepts():
            for word in lex.words[concept]:
                assert word_script(word) in allowed, (code, concept, word)


def test_cognates_share_and_fresh_words() -> None:
    english = build_lexicon("en", 0, 0.4)
    for code in LANGUAGES[1:]:
        lex = build_lexicon(code, 0, 0.4)
        share = len(lex.cognates) / len(content_concepts())
        assert 0.2 < share < 0.6, (code, share)
        words = [w for forms in lex.words.values() for w in forms]
        assert len(set(words)) == len(words)  # no homonyms: meaning is recoverable
        if PROFILES[code].script == "Latin":  # a Latin cognate keeps most of the English spelling
            for concept in lex.cognates:
                first = english.word(concept)[0].replace("c", "k").replace("y", "i")
                assert lex.word(concept)[0] == first, (code, concept, lex.word(concept))


def test_word_order_differs_between_languages() -> None:
    lex = lexicons(0, 0.4)
    p = Proposition(NounPhrase("dog"), "sees", NounPhrase("cat"))
    positions = {}
    for code in ("en", "ar", "hi"):
        r = realise(p, lex[code])
        verb = r.text.index(lex[code].word("sees"))
        positions[code] = (r.spans["subject"][0] < verb, r.spans["object"][0] < verb)
    assert positions == {"en": (True, False), "ar": (False, False), "hi": (True, True)}  # SVO, VSO, SOV


def test_labels_follow_the_relations() -> None:
    import random

    rng = random.Random(0)
    for _ in range(200):
        premise, hypothesis, label = nli_pair(rng)
        if label == 2 and premise.negated != hypothesis.negated:
            assert (premise.subject, premise.object) == (hypothesis.subject, hypothesis.object)
        p, q, label = paraphrase_pair(rng)
        assert (p == q) == (label == 1)
        assert {p.subject.noun, p.object.noun} == {q.subject.noun, q.object.noun}  # same words either way


def test_build_is_cached_and_refuses_foreign_folders(tmp_path: Path) -> None:
    world = build_world(tmp_path / "w", seed=0, config=SMALL, with_model=False)
    again = build_world(tmp_path / "w", seed=0, config=SMALL, with_model=False)
    assert not world.reused and again.reused and again.manifest == world.manifest
    other = build_world(tmp_path / "w", seed=1, config=SMALL, with_model=False)
    assert not other.reused and other.manifest["seed"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="refusing to replace"):
        build_world(foreign, config=SMALL, with_model=False)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_cli_world_build_without_model(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "raygrid.cli", "world", "build", str(tmp_path / "w"), "--no-model", "--json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads(done.stdout)
    assert manifest["model"] is None and manifest["files"]["xnli/test.de"] == 300
    assert (tmp_path / "w" / "data" / "pawsx" / "test.ja.jsonl").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "raygrid.cli", "world", "build", str(tmp_path / "w"), "--pretrain-steps", "0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "--pretrain-steps" in bad.stderr


def test_translation_pairs_cover_every_language_and_arabic_articles() -> None:
    from raygrid.world.build import translation_pairs

    pairs = translation_pairs(0, WorldConfig())
    english = build_lexicon("en", 0, 0.5)
    arabic = build_lexicon("ar", 0, 0.5)
    assert ("dog", arabic.word("dog")) in pairs and ("dog", "ال" + arabic.word("dog")) in pairs
    assert ("not", "nicht") in pairs and ("in", "में") in pairs
    per_language = len(content_concepts()) * 2
    assert len(pairs) >= per_language * (len(LANGUAGES) - 1)
    assert all(en in {w for forms in english.words.values() for w in forms} | {"not", "in", "who", "whom", "where"}
               for en, _ in pairs)  # fmt: skip


def test_dictionary_alignment_pulls_translations_together(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    from raygrid.world.build import translation_pairs
    from raygrid.world.corpus import CorpusConfig, corpus_lines
    from raygrid.world.pretrain import PretrainConfig, _one_token_pairs, pretrain

    lex = lexicons(0, 0.5)
    by_language = corpus_lines(lex, 0, CorpusConfig(lines_per_language=150))
    lines = by_language["en"] + by_language["ru"]
    russian_words = {w for forms in lex["ru"].words.values() for w in forms}
    pairs = [(en, ru) for en, ru in translation_pairs(0, WorldConfig()) if ru in russian_words]
    small = PretrainConfig(vocab_size=4000, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, steps=60, batch_size=8, warmup_steps=5)  # fmt: skip
    distance = {}
    for weight in (0.0, 10.0):
        out = tmp_path / f"w{weight}"
        measured = pretrain(lines, out, seed=0, config=replace(small, alignment_weight=weight), translations=pairs)
        tokenizer = AutoTokenizer.from_pretrained(out)
        english, foreign = _one_token_pairs(tokenizer, pairs)
        assert len(english) >= 20 and measured["aligned_word_pairs"] == (len(english) if weight else 0)
        (table,) = [t for k, t in load_file(out / "model.safetensors").items() if k.endswith("word_embeddings.weight")]
        distance[weight] = float((table[foreign] - table[english]).norm(dim=1).mean())
    assert distance[10.0] < 0.5 * distance[0.0], distance


def test_pretraining_is_deterministic_whatever_the_callers_random_state(tmp_path: Path) -> None:
    import torch

    from raygrid.world.corpus import CorpusConfig, corpus_lines
    from raygrid.world.pretrain import PretrainConfig, pretrain

    by_language = corpus_lines(lexicons(0, 0.5), 0, CorpusConfig(lines_per_language=60))
    lines = by_language["en"] + by_language["de"]
    small = PretrainConfig(vocab_size=4000, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, steps=20, batch_size=8, warmup_steps=2)  # fmt: skip
    files = []
    for caller_seed in (1, 2):
        torch.manual_seed(caller_seed)  # dropout must not depend on what the caller did before
        state = torch.random.get_rng_state()
        pretrain(lines, tmp_path / str(caller_seed), seed=0, config=small)
        assert torch.equal(torch.random.get_rng_state(), state)  # and the caller's state is left alone
        files.append((tmp_path / str(caller_seed) / "model.safetensors").read_bytes())
    assert files[0] == files[1]


def test_qqp_can_be_user_written_and_every_other_task_stays_edited(tmp_path: Path) -> None:
    """With typos, QQP's questions carry them (raygrid.world.noise); the labels,
    the words' count and every other file are those of the default world."""
    from raygrid.world.noise import QQP_TYPOS

    write_data(tmp_path / "typos", 0, replace(SMALL, typos={"qqp": QQP_TYPOS}))
    write_data(tmp_path / "clean", 0, SMALL)
    noisy, clean = _tree(tmp_path / "typos"), _tree(tmp_path / "clean")
    assert {name for name in noisy if noisy[name] != clean[name]} == {"qqp/train.en.jsonl", "qqp/dev.en.jsonl"}
    changed = total = 0
    for name in ("qqp/train.en.jsonl", "qqp/dev.en.jsonl"):
        for a, b in zip(noisy[name].decode().splitlines(), clean[name].decode().splitlines(), strict=True):
            row, plain = json.loads(a), json.loads(b)
            assert row["label"] == plain["label"] and row["idx"] == plain["idx"]
            for column in ("question1", "question2"):
                words, plain_words = row[column].split(" "), plain[column].split(" ")
                assert len(words) == len(plain_words)
                changed += sum(w != p for w, p in zip(words, plain_words, strict=True))
                total += len(words)
    assert 0.5 * QQP_TYPOS < changed / total < 1.5 * QQP_TYPOS, changed / total


def test_a_world_without_typos_keeps_its_key() -> None:
    """The typos option left the default world's key (and so every built world) as it was."""
    from raygrid.world.build import _key

    assert "typos" not in WorldConfig().to_dict() and _key(0, WorldConfig()) == "411c5eed57d123c0"
    assert _key(0, replace(WorldConfig(), typos={"qqp": 0.2})) != _key(0, WorldConfig())


def test_typos_only_for_free_text_tasks_at_a_share(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="typos: task 'squad'; allowed: anli, mnli, qqp"):
        write_data(tmp_path, 0, replace(SMALL, typos={"squad": 0.1}))
    with pytest.raises(ConfigError, match=r"typos\['qqp'\]: rate 1.5; allowed"):
        write_data(tmp_path, 0, replace(SMALL, typos={"qqp": 1.5}))
