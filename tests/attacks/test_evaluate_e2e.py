"""The attack suite on the tiny model: evaluation API, adaptive vs fixed,
white-box and MLM families, QA and tagging goals, and the two commands."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from raygrid.attacks import evaluate_attacks, get_attack, to_result_rows
from raygrid.formats import EvalSettings
from raygrid.formats.base import HeadKind
from raygrid.models import build_model, load_tokenizer, save_checkpoint
from raygrid.tasks import DataSources, get_task, load_rows

pytestmark = pytest.mark.e2e

LANGS = ("de", "ar", "zh", "ru", "hi", "fr", "es", "el")


def _rows(lang: str) -> list[dict]:  # type: ignore[type-arg]
    return [dict(r) for r in load_rows(get_task("xnli"), "test", lang, DataSources(bundled=True))]


@pytest.fixture(scope="module")
def trained(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The tiny model with a *standardised random probe* as its head, saved
    as a checkpoint.

    A random-init tiny XLM-R gives almost the same [CLS] vector for every
    input, so its predictions are constant, and fitting it takes ~1 s per
    step on the shared test machine. Instead the head's output layer is
    rescaled so that logits are a random linear function of the
    *standardised* [CLS] features (mean/std over the bundled rows): its
    predictions depend on the text, at no training cost.
    """
    from raygrid.formats._common import collate_features
    from raygrid.formats.classification import _tokenize

    tokenizer = load_tokenizer(tiny_model_dir)
    model = build_model(tiny_model_dir, HeadKind.SEQUENCE_CLASSIFICATION, num_labels=3, seed=0)
    model.eval()
    rows = [r for lang in LANGS for r in _rows(lang)]
    enc = _tokenize([r["text_a"] for r in rows], [r["text_b"] for r in rows], tokenizer, 128)
    batch = collate_features([dict(zip(enc, v, strict=True)) for v in zip(*enc.values(), strict=True)], tokenizer.pad_token_id)
    with torch.no_grad():
        hidden = torch.tanh(model.classifier.dense(model.roberta(**batch).last_hidden_state[:, 0]))
        mean, std = hidden.mean(0), hidden.std(0).clamp_min(1e-6)
        weight = model.classifier.out_proj.weight / std
        model.classifier.out_proj.weight.copy_(weight)
        model.classifier.out_proj.bias.copy_(-(weight @ mean))
    path = save_checkpoint(model, tokenizer, tmp_path_factory.mktemp("ckpt") / "xnli", {"model": str(tiny_model_dir), "task": "xnli"})
    return model, tokenizer, path


def _labelled_by_model(model, tokenizer, lang: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    """The language's rows with the model's clean prediction as gold label,
    so every example is attacked (none skipped): the test measures whether
    an attack can move the prediction."""
    from raygrid.attacks.victim import Victim

    rows = _rows(lang)
    for row, probs in zip(rows, Victim(model, tokenizer, get_task("xnli")).query(rows), strict=True):
        row["label"] = max(range(len(probs)), key=lambda k: probs[k])
    return rows


def test_adaptive_char_noise_beats_fixed_on_the_same_examples(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model, tokenizer, _ = trained
    task = get_task("xnli")
    fixed, adaptive = get_attack("char_noise"), get_attack("char_noise", mode="adaptive", query_budget=80)
    n_fixed = n_adaptive = attacked = 0
    for lang in ("de", "ar", "zh"):
        rows = _labelled_by_model(model, tokenizer, lang)
        res = evaluate_attacks(model, tokenizer, task, lang, rows, [fixed, adaptive], seed=0, sample_dir=tmp_path)
        f, a = res
        assert f.n_skipped == a.n_skipped  # the same examples are attacked
        attacked += f.n_successful + f.n_failed
        n_fixed += f.n_successful
        n_adaptive += a.n_successful
        assert a.mean_queries > f.mean_queries == 2.0
        assert 0.0 <= a.robust_accuracy <= a.clean_accuracy == f.clean_accuracy
    assert attacked > 0
    assert n_adaptive > n_fixed
    sample = (tmp_path / "xnli.de.char_noise_mode=adaptive_query_budget=80_.jsonl").read_text(encoding="utf-8").splitlines()
    record = json.loads(sample[0])
    assert set(record) >= {"id", "original", "perturbed", "gold", "clean_prediction", "attacked_prediction"}


def test_white_box_and_mlm_families_run_and_rows_are_written(trained, tmp_path: Path, tiny_model_dir: Path) -> None:  # type: ignore[no-untyped-def]
    from raygrid.store import read_rows, write_run

    model, tokenizer, _ = trained
    task = get_task("xnli")
    attacks = [
        get_attack("embedding_pgd", epsilon=1.0, steps=3),
        get_attack("hotflip", query_budget=40),
        get_attack("mlm_substitute", mlm=str(tiny_model_dir), query_budget=40),
    ]
    results = evaluate_attacks(model, tokenizer, task, "ru", _labelled_by_model(model, tokenizer, "ru")[:6], attacks, seed=0)
    assert [r.attack for r in results] == ["embedding_pgd[epsilon=1.0,steps=3]", "hotflip[query_budget=40]", results[2].attack]
    pgd, flip, mlm = results
    assert pgd.robust_accuracy <= pgd.clean_accuracy
    for r in (flip, mlm):
        assert r.n_successful + r.n_failed + r.n_skipped == 6
    rows = to_result_rows(results, run_key="k1", split="test", stage="confirm")
    assert {r.metric for r in rows} == {
        "clean_accuracy", "robust_accuracy", "attack_success_rate", "mean_words_perturbed", "mean_queries", "examples_per_second",
    }  # fmt: skip
    write_run(tmp_path, "k1", rows)
    assert len(read_rows(tmp_path)) == 18


def test_qa_and_tagging_goals(tiny_model_dir: Path) -> None:
    tokenizer = load_tokenizer(tiny_model_dir)
    for task_name, head, n in (("xquad", HeadKind.QUESTION_ANSWERING, None), ("panx", HeadKind.TOKEN_CLASSIFICATION, 7)):
        task = get_task(task_name)
        model = build_model(tiny_model_dir, head, num_labels=n or len(task.label_names or ()) or None, seed=0)
        rows = [dict(r) for r in load_rows(task, "test" if task_name == "xquad" else "dev", "de", DataSources(bundled=True))][:4]
        res = evaluate_attacks(
            model, tokenizer, task, "de", rows, [get_attack("char_noise", mode="adaptive", query_budget=20)],
            settings=EvalSettings(encode=EvalSettings().encode.__class__(max_seq_length=128, doc_stride=64)), seed=0,
        )  # fmt: skip
        assert res[0].n_examples == 4 and 0.0 <= res[0].robust_accuracy <= 1.0


def test_attack_command_prints_a_table_and_writes_rows(trained, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    from raygrid.cli import main
    from raygrid.store import read_examples, read_rows

    _, _, ckpt = trained
    argv = ["attack", str(ckpt), "--task", "xnli", "--languages", "de,ar,zh", "--data", "bundled", "--max-examples", "6", "--output", str(tmp_path)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "char_noise" in out and "de" in out
    rows = read_rows(tmp_path / "results")
    assert {r["language"] for r in rows} == {"de", "ar", "zh"}
    examples = read_examples(tmp_path / "results")
    assert set(examples["stage"]) == {"attack"} and set(examples["run_key"]) == {rows[0]["run_key"]}
    assert {(lang, a) for lang, a in zip(examples["language"], examples["attack"], strict=True) if lang == "zh"} == {
        ("zh", "none"), ("zh", "char_noise"), ("zh", "homoglyph"), ("zh", "invisible"),
    }  # fmt: skip
    assert {r["attack"] for r in rows if r["language"] == "zh"} == {"char_noise", "homoglyph", "invisible"}  # no diacritics in zh
    assert main([*argv[:-2], "--output", str(tmp_path / "b"), "--attacks", "diacritics"]) == 2  # explicit + unsupported


def test_perturb_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from raygrid.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("Das Wetter ist heute sonnig.\nAlle Menschen sind frei.\n"))
    assert main(["perturb", "--attack", "char_noise", "--language", "de", "--seed", "1", "--rate", "0.5"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0] != "Das Wetter ist heute sonnig."
    for argv in (["--attack", "hotflip", "--language", "de"], ["--attack", "homoglyph", "--language", "th"], ["--attack", "zz", "--language", "de"]):
        monkeypatch.setattr("sys.stdin", io.StringIO("x\n"))
        assert main(["perturb", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("raygrid: error: ")


def test_attack_rows_for_the_sweep(trained) -> None:  # type: ignore[no-untyped-def]
    from raygrid.attacks import attack_rows
    from raygrid.tasks.types import Split

    model, tokenizer, _ = trained
    rows = attack_rows(
        model=model, tokenizer=tokenizer, task="xnli", languages=["de", "hi"], splits=[Split.TEST, Split.TEST],
        attacks=[("diacritics", {}), ("invisible", {"rate": 0.5})], sources=DataSources(bundled=True),
        max_examples=4, run_key="u1", fields={"stage": "confirm"},
    ).rows  # fmt: skip
    assert {(r.language, r.attack) for r in rows} == {("de", "diacritics"), ("de", "invisible[rate=0.5]"), ("hi", "invisible[rate=0.5]")}
    assert all(r.stage == "confirm" and r.split == "test" for r in rows)
