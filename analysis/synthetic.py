"""Synthetic confirm-stage results with planted effects, in the row contract.

Tests, the benchmark and anyone checking the statistics use these tables: a
known truth goes in, and the analysis must find it and nothing else.

The generative model, per target language ``l``, intermediate ``i``, seed ``s``
and attack ``a`` (fractions, not points)::

    p_clean[i,l,s]  = base[l] + clean_gain[i,l] + u[i,s] + v[i,s,l]
    p_robust[i,l,s,a] = p_clean[i,l,s] - drop[a] + robust_gain[i,l]
    correct  ~ Binomial(n_attacked, p_clean)          (clean_accuracy)
    survived ~ Binomial(correct, p_robust / p_clean)   (robust_accuracy)

``u`` (shared by every language of a run) and ``v`` are the seed noise,
Normal(0, seed_sd); example noise is binomial. Without planted effects every
intermediate equals the baseline ``none`` in robust accuracy.

Example:
    >>> rows = confirm_rows(planted=[Planted("mnli", ("ar", "ur"), robust_gain=0.03)], seeds=3)
    >>> sorted(rows["metric"].unique())[:2]
    ['accuracy', 'attack_success_rate']
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Writing system of each language the synthetic tables use (ISO 15924 names).
SCRIPTS: Mapping[str, str] = {
    "ar": "Arabic", "ur": "Arabic", "fa": "Arabic",
    "bg": "Cyrillic", "ru": "Cyrillic", "uk": "Cyrillic", "kk": "Cyrillic",
    "hi": "Devanagari", "mr": "Devanagari",
    "el": "Greek", "th": "Thai", "zh": "Han", "ja": "Japanese", "ko": "Hangul", "he": "Hebrew",
    "ka": "Georgian", "ta": "Tamil", "te": "Telugu", "ml": "Malayalam", "bn": "Bengali", "my": "Myanmar",
}  # fmt: skip

XNLI_LANGUAGES = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
INTERMEDIATES = ("none", "mnli", "squad", "hellaswag", "anli", "qqp", "cosmosqa", "all")
ATTACKS = ("polygloss", "typo", "homoglyph")
#: Accuracy lost to each attack (fraction), for the attacks above; others get 0.2.
ATTACK_DROP = {"polygloss": 0.3, "typo": 0.12, "homoglyph": 0.2}


def script_of(language: str) -> str:
    """The language's script (Latin unless listed in :data:`SCRIPTS`)."""
    return SCRIPTS.get(language, "Latin")


@dataclass(frozen=True)
class Planted:
    """An effect put into the table: ``intermediate`` shifts robust (and
    optionally clean) accuracy by the given fractions in ``languages``."""

    intermediate: str
    languages: tuple[str, ...]
    robust_gain: float = 0.0
    clean_gain: float = 0.0


def confirm_rows(
    *,
    target: str = "xnli",
    languages: Sequence[str] = XNLI_LANGUAGES,
    intermediates: Sequence[str] = INTERMEDIATES,
    attacks: Sequence[str] = ATTACKS,
    seeds: int = 5,
    n_examples: int = 2000,
    n_attacked: int = 1000,
    seed_sd: float = 0.004,
    planted: Sequence[Planted] = (),
    clean_metrics: Sequence[str] = ("accuracy",),
    rng: int | np.random.Generator = 0,
) -> pd.DataFrame:
    """Contract rows (docs/results.md) of the confirm runs of one target."""
    gen = np.random.default_rng(rng)
    L, I, S, A = len(languages), len(intermediates), seeds, len(attacks)
    lang_rng = np.random.default_rng(zlib.crc32(",".join(languages).encode()))
    base = lang_rng.uniform(0.55, 0.8, size=L)
    if "en" in languages:
        base[list(languages).index("en")] = 0.85
    clean_gain = np.zeros((I, L))
    robust_gain = np.zeros((I, L))
    for effect in planted:
        i = list(intermediates).index(effect.intermediate)
        for lang in effect.languages:
            clean_gain[i, list(languages).index(lang)] += effect.clean_gain
            robust_gain[i, list(languages).index(lang)] += effect.robust_gain
    u = gen.normal(0, seed_sd, size=(I, 1, S))
    v = gen.normal(0, seed_sd, size=(I, L, S))
    p_clean = np.clip(base[None, :, None] + clean_gain[:, :, None] + u + v, 0.01, 0.99)  # (I, L, S)
    drop = np.array([ATTACK_DROP.get(a, 0.2) for a in attacks])
    p_rob = np.clip(p_clean[..., None] - drop + robust_gain[:, :, None, None], 0.0, 0.99)  # (I, L, S, A)
    clean_ok = gen.binomial(n_attacked, np.broadcast_to(p_clean[..., None], p_rob.shape))
    survive = np.where(clean_ok > 0, gen.binomial(clean_ok, np.clip(p_rob / p_clean[..., None], 0, 1)), 0)
    test_acc = gen.binomial(n_examples, p_clean) / n_examples  # (I, L, S)
    en_dev = gen.binomial(n_examples, np.clip(0.85 + clean_gain.mean(axis=1)[:, None] + u[:, 0, :], 0, 1)) / n_examples

    ii, ll, ss, aa = (x.ravel() for x in np.meshgrid(np.arange(I), np.arange(L), np.arange(S), np.arange(A), indexing="ij"))
    clean_a = clean_ok.ravel() / n_attacked
    robust_a = survive.ravel() / n_attacked
    asr = np.where(clean_ok.ravel() > 0, 1 - survive.ravel() / np.maximum(clean_ok.ravel(), 1), 0.0)
    attack_metrics = {
        "clean_accuracy": clean_a,
        "robust_accuracy": robust_a,
        "attack_success_rate": asr,
        "mean_words_perturbed": gen.uniform(0.08, 0.2, size=ii.size),
        "mean_queries": gen.uniform(20, 200, size=ii.size),
        "examples_per_second": gen.uniform(50, 500, size=ii.size),
    }
    frames = [
        pd.DataFrame({"i": ii, "l": ll, "s": ss, "attack": np.asarray(attacks)[aa], "split": "test",
                      "metric": name, "value": values, "n_examples": n_attacked})
        for name, values in attack_metrics.items()
    ]  # fmt: skip
    ci, cl, cs = (x.ravel() for x in np.meshgrid(np.arange(I), np.arange(L), np.arange(S), indexing="ij"))
    for k, name in enumerate(clean_metrics):
        frames.append(pd.DataFrame({"i": ci, "l": cl, "s": cs, "attack": "none", "split": "test", "metric": name,
                                    "value": np.clip(test_acc.ravel() - 0.05 * k, 0, 1), "n_examples": n_examples}))  # fmt: skip
        di, ds = (x.ravel() for x in np.meshgrid(np.arange(I), np.arange(S), indexing="ij"))
        frames.append(pd.DataFrame({"i": di, "l": -1, "s": ds, "attack": "none", "split": "dev", "metric": name,
                                    "value": np.clip(en_dev.ravel() - 0.05 * k, 0, 1), "n_examples": n_examples}))  # fmt: skip
    rows = pd.concat(frames, ignore_index=True)
    inter = np.asarray(intermediates, dtype=object)
    langs = np.asarray([*languages, "en"], dtype=object)  # index -1: English dev
    rows["intermediate"] = inter[rows["i"].to_numpy()]
    rows["language"] = langs[rows["l"].to_numpy()]
    rows["seed"] = rows["s"].astype("int64")
    configs = {name: json.dumps({"learning_rate": 1e-5 * (1 + k % 3), "epochs": 2 + k % 2}, sort_keys=True)
               for k, name in enumerate(intermediates)}  # fmt: skip
    rows["config"] = rows["intermediate"].map(configs)
    rows["cell_key"] = rows["intermediate"].map(lambda name: f"cell-{name}-{target}")
    rows["run_key"] = rows["cell_key"] + "-s" + rows["seed"].astype(str)
    rows["checkpoint"] = "checkpoints/" + rows["run_key"]
    rows["task"] = target
    rows["stage"] = "confirm"
    rows["model"] = "synthetic-xlmr"
    rows["schema_version"] = 1
    return rows.drop(columns=["i", "l", "s"])


def trial_rows(target: str = "xnli", intermediates: Sequence[str] = INTERMEDIATES, trials: int = 3) -> pd.DataFrame:
    """HPO trial rows (English dev only) that analysis must ignore; their values are absurd on purpose."""
    records = [
        {"run_key": f"trial-{name}-{target}-{t}", "task": target, "language": "en", "split": "dev", "attack": "none",
         "metric": "accuracy", "value": 1.0, "stage": "trial", "intermediate": name, "model": "synthetic-xlmr",
         "seed": t, "n_examples": 100, "checkpoint": "", "config": json.dumps({"learning_rate": 1e-3 * (t + 1)}),
         "cell_key": f"cell-{name}-{target}", "schema_version": 1}
        for name in intermediates for t in range(trials)
    ]  # fmt: skip
    return pd.DataFrame(records)


def write_sweep_dir(path: Path | str, rows: pd.DataFrame, *, spec_text: str | None = None) -> Path:
    """Writes ``rows`` as a sweep directory (``spec.yaml`` + ``results/``) through
    :func:`raygrid.store.write_run`, one run per ``run_key``, exactly as a sweep does."""
    from raygrid.layout import RESULTS_DIR, SPEC_FILE
    from raygrid.store import ResultRow, write_run

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    (root / SPEC_FILE).write_text(spec_text or "# synthetic sweep written by analysis.synthetic\nname: synthetic\n")
    fields = list(ResultRow.__dataclass_fields__)
    frame = rows[fields]
    for run_key, group in frame.groupby("run_key", sort=True):
        records = [ResultRow(**rec) for rec in _records(group)]
        write_run(root / RESULTS_DIR, str(run_key), records, meta={"synthetic": True})
    return root


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.to_dict("records")
    for rec in out:
        rec["seed"] = int(rec["seed"])
        rec["n_examples"] = int(rec["n_examples"])
        rec["schema_version"] = int(rec["schema_version"])
        rec["value"] = float(rec["value"])
    return out


__all__ = [
    "ATTACKS",
    "INTERMEDIATES",
    "Planted",
    "SCRIPTS",
    "XNLI_LANGUAGES",
    "confirm_rows",
    "script_of",
    "trial_rows",
    "write_sweep_dir",
]
