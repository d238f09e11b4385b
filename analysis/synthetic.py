"""Synthetic confirm-stage results with planted effects, in the row contract.

Tests, the benchmark and anyone checking the statistics use these tables: a
known truth goes in, and the analysis must find it and nothing else.

Two generators. :func:`simulate_examples` (per-example outcomes, the model of
issue 17; see :class:`ExampleDesign`) returns arrays with a leading
simulations axis for calibration, :func:`example_rows` turns one simulation
into per-example rows (:mod:`raygrid.outcomes`) and :func:`aggregate_rows`
computes the matching aggregate contract rows from them;
:func:`true_contrasts` gives the exact population value of every contrast.
:func:`confirm_rows` (below) draws aggregate rows directly.

The aggregate generative model, per target language ``l``, intermediate ``i``, seed ``s``
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

import functools
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
    optionally clean) accuracy by the given fractions in ``languages``
    (fractions, not points: ``robust_gain=0.03`` is 3 accuracy points).

    In :func:`confirm_rows` ``robust_gain`` shifts robust accuracy; in
    :class:`ExampleDesign` it shifts the conditional robust accuracy
    (1 - attack success rate) and ``clean_gain`` the clean accuracy only."""

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


def write_sweep_dir(
    path: Path | str, rows: pd.DataFrame, *, spec_text: str | None = None, examples: pd.DataFrame | None = None
) -> Path:
    """Writes ``rows`` as a sweep directory (``spec.yaml`` + ``results/``) through
    :func:`raygrid.store.write_run`, one run per ``run_key``, exactly as a sweep does.

    ``examples``: per-example rows (:func:`example_rows`), written with each
    run's aggregate rows (``write_run(..., examples=...)``).
    """
    from raygrid.layout import RESULTS_DIR, SPEC_FILE
    from raygrid.store import ResultRow, write_run

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    (root / SPEC_FILE).write_text(spec_text or "# synthetic sweep written by analysis.synthetic\nname: synthetic\n")
    fields = list(ResultRow.__dataclass_fields__)
    frame = rows[fields]
    per_run = {} if examples is None else {str(key): group for key, group in examples.groupby("run_key", sort=False)}
    for run_key, group in frame.groupby("run_key", sort=True):
        records = [ResultRow(**rec) for rec in _records(group)]
        run_examples = None if examples is None else per_run.get(str(run_key), examples.iloc[:0]).reset_index(drop=True)
        write_run(root / RESULTS_DIR, str(run_key), records, meta={"synthetic": True}, examples=run_examples)
    return root


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.to_dict("records")
    for rec in out:
        rec["seed"] = int(rec["seed"])
        rec["n_examples"] = int(rec["n_examples"])
        rec["schema_version"] = int(rec["schema_version"])
        rec["value"] = float(rec["value"])
    return out



# ----------------------------------------------------------------------------
# Per-example outcomes (issue 17)
# ----------------------------------------------------------------------------

#: Zero-shot languages of the per-example design: four scripts (Arabic x2, Cyrillic x2, Devanagari, Latin).
EXAMPLE_LANGUAGES = ("ar", "ur", "bg", "ru", "hi", "sw")
#: Share of the clean-correct examples that survive each attack (population mean); others get 0.7.
ATTACK_SURVIVAL = {"polygloss": 0.55, "typo": 0.8, "homoglyph": 0.7}
#: Population clean accuracy of English dev.
ENGLISH_DEV_ACCURACY = 0.85
_NLI_LABELS = ("entailment", "neutral", "contradiction")
_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(96)
_GH_W = _GH_W / _GH_W.sum()


@dataclass(frozen=True)
class ExampleDesign:
    """The design and generative model of :func:`simulate_examples`.

    Per target language ``l``, example ``e`` (``n_examples`` per language,
    the same examples for every run), intermediate ``i`` (``intermediates[0]``
    is the baseline), seed ``s`` and attack ``a``, on the logit scale::

        P(clean correct)             = sigmoid(base[l] + clean_shift[i,l] + u[i,s] + v[i,l,s] + b[e])
        P(survive | clean correct)   = sigmoid(rob[a] + robust_shift[i,l] + w[i,s] + x[i,l,s] + r[e,a])

    ``b ~ N(0, difficulty_sd)`` (example difficulty) and ``r ~ N(0,
    robustness_sd)`` (example robustness, per attack) are shared by every run
    and independent, so survival does not depend on clean ability: a
    clean-only effect leaves the conditional robust accuracy unchanged.
    ``u`` and ``w`` are shared by every language of a trained model, ``v`` and
    ``x`` per language. ``seed_sd`` is the standard deviation, in accuracy
    points, that the run effects give one run's clean accuracy (and
    conditional robust accuracy) in one language; ``shared`` is the share of
    that variance common to all languages. Both are converted to the logit
    scale with the slope of the population accuracy at the language's (the
    attacks' mean) base. ``base`` is set so the population clean accuracy of
    a language is ``clean_accuracy[l]`` (default: drawn per language from
    0.55-0.8, as :func:`confirm_rows`), ``rob`` so that the population share
    surviving attack ``a`` is :data:`ATTACK_SURVIVAL`.

    Planted effects (:class:`Planted`) are fractions, like :func:`confirm_rows`
    (``robust_gain=0.03``: 3 points): ``clean_gain`` shifts the language's
    population clean accuracy by that much (without run effects),
    ``robust_gain`` the population conditional robust accuracy averaged over
    attacks. :func:`true_contrasts` gives the exact values with run effects.
    """

    target: str = "xnli"
    languages: tuple[str, ...] = EXAMPLE_LANGUAGES
    intermediates: tuple[str, ...] = INTERMEDIATES[:7]
    attacks: tuple[str, ...] = ATTACKS
    seeds: int = 3
    n_examples: int = 300
    n_dev: int = 200
    seed_sd: float = 1.0
    shared: float = 0.5
    difficulty_sd: float = 1.5
    robustness_sd: float = 1.0
    planted: tuple[Planted, ...] = ()
    clean_accuracy: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        for effect in self.planted:
            if effect.intermediate not in self.intermediates[1:]:
                raise ValueError(f"Planted.intermediate: {effect.intermediate!r} is not one of {self.intermediates[1:]}")
            unknown = set(effect.languages) - set(self.languages)
            if unknown:
                raise ValueError(f"Planted.languages: {sorted(unknown)} not among {self.languages}")
        if self.seeds < 1 or self.n_examples < 2 or len(self.intermediates) < 2:
            raise ValueError(f"ExampleDesign: seeds={self.seeds} (>= 1), n_examples={self.n_examples} (>= 2), intermediates={self.intermediates} (>= 2) ")
        if not 0.0 <= self.shared <= 1.0:
            raise ValueError(f"ExampleDesign.shared: {self.shared} is not in [0, 1]")

    def gains(self) -> tuple[np.ndarray, np.ndarray]:
        """The planted (clean, robust) gains, fractions, each (I, L)."""
        clean = np.zeros((len(self.intermediates), len(self.languages)))
        robust = np.zeros_like(clean)
        for effect in self.planted:
            i = self.intermediates.index(effect.intermediate)
            for lang in effect.languages:
                clean[i, self.languages.index(lang)] += effect.clean_gain
                robust[i, self.languages.index(lang)] += effect.robust_gain
        return clean, robust

    def accuracies(self) -> np.ndarray:
        """Population clean accuracy of each language (no effects)."""
        if self.clean_accuracy is not None:
            if len(self.clean_accuracy) != len(self.languages):
                raise ValueError(f"ExampleDesign.clean_accuracy: {len(self.clean_accuracy)} values for {len(self.languages)} languages")
            return np.asarray(self.clean_accuracy, dtype=float)
        return np.random.default_rng(zlib.crc32(",".join(self.languages).encode())).uniform(0.55, 0.8, size=len(self.languages))


@dataclass(frozen=True)
class ExampleOutcomes:
    """Per-example outcomes of ``sims`` simulations of one design.

    ``clean_correct``: bool ``(sims, L, I, k, n)``; ``survived``: bool
    ``(sims, L, I, k, A, n)`` (false where the clean prediction is wrong);
    ``dev_correct``: bool ``(sims, I, k, n_dev)`` (English dev). For
    classification ``clean_score = clean_correct`` and ``attacked_score =
    survived`` (1.0/0.0).
    """

    design: ExampleDesign
    clean_correct: np.ndarray
    survived: np.ndarray
    dev_correct: np.ndarray

    def language(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(clean_score, clean_correct, survived, attacked_score)`` of one
        language as float arrays ``(sims, I, k, n)`` and ``(sims, I, k, A, n)``."""
        clean = self.clean_correct[:, index].astype(float)
        survived = self.survived[:, index].astype(float)
        return clean, clean, survived, survived


@dataclass(frozen=True)
class _Params:
    base: np.ndarray  # (L,) logit
    rob: np.ndarray  # (A,) logit
    clean_shift: np.ndarray  # (I, L)
    robust_shift: np.ndarray  # (I, L)
    clean_sd: np.ndarray  # (L,) logit sd of u + v
    robust_sd: float  # logit sd of w + x
    dev_base: float
    dev_sd: float


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _mean_sigmoid(loc: np.ndarray | float, sd: np.ndarray | float) -> np.ndarray:
    """``E[sigmoid(loc + sd Z)]``, Z standard normal (Gauss-Hermite)."""
    loc_a, sd_a = np.broadcast_arrays(np.asarray(loc, dtype=float), np.asarray(sd, dtype=float))
    return np.asarray((_sigmoid(loc_a[..., None] + sd_a[..., None] * _GH_X) * _GH_W).sum(axis=-1))


def _slope(loc: np.ndarray | float, sd: float) -> np.ndarray:
    """``d/dloc E[sigmoid(loc + sd Z)]``."""
    p = _sigmoid(np.asarray(loc, dtype=float)[..., None] + sd * _GH_X)
    return np.asarray((p * (1 - p) * _GH_W).sum(axis=-1))


def _solve(target: np.ndarray, sd: float, locs: np.ndarray | None = None) -> np.ndarray:
    """The shift ``d`` with ``mean_j E[sigmoid(locs_j + d + sd Z)] = target``
    (``locs`` over the last axis; default a single 0), by bisection."""
    target = np.asarray(target, dtype=float)
    offsets = np.zeros(1) if locs is None else np.asarray(locs, dtype=float)
    lo, hi = np.full(target.shape, -30.0), np.full(target.shape, 30.0)
    for _ in range(80):
        mid = (lo + hi) / 2
        too_high = _mean_sigmoid(mid[..., None] + offsets, sd).mean(axis=-1) > target
        hi, lo = np.where(too_high, mid, hi), np.where(too_high, lo, mid)
    return (lo + hi) / 2


def _params(design: ExampleDesign) -> _Params:
    acc = design.accuracies()
    clean_gain, robust_gain = design.gains()
    if np.any(acc + clean_gain <= 0.0) or np.any(acc + clean_gain >= 1.0):
        raise ValueError("ExampleDesign.planted: a clean gain takes an accuracy out of (0, 1)")
    base = _solve(acc, design.difficulty_sd)
    survival = np.array([ATTACK_SURVIVAL.get(a, 0.7) for a in design.attacks])
    rob = _solve(survival, design.robustness_sd)
    clean_shift = _solve(acc + clean_gain, design.difficulty_sd) - base
    mean_survival = float(survival.mean())
    if np.any(mean_survival + robust_gain <= 0.0) or np.any(mean_survival + robust_gain >= 1.0):
        raise ValueError("ExampleDesign.planted: a robust gain takes the survival rate out of (0, 1)")
    robust_shift = _solve(mean_survival + robust_gain, design.robustness_sd, rob)
    sd = design.seed_sd / 100.0
    clean_sd = sd / _slope(base, design.difficulty_sd)
    robust_sd = float(sd / _slope(rob, design.robustness_sd).mean())
    dev_base = float(_solve(np.array(ENGLISH_DEV_ACCURACY), design.difficulty_sd))
    dev_sd = float(sd / _slope(dev_base, design.difficulty_sd))
    return _Params(base, rob, clean_shift, robust_shift, clean_sd, robust_sd, dev_base, dev_sd)


def simulate_examples(design: ExampleDesign, sims: int = 1, rng: int | np.random.Generator = 0) -> ExampleOutcomes:
    """Draws ``sims`` independent simulations of ``design`` (new examples,
    run effects and outcomes each), vectorised over the leading axis.

    Example:
        >>> out = simulate_examples(ExampleDesign(seeds=2, n_examples=50), sims=4)
        >>> out.clean_correct.shape, out.survived.shape
        ((4, 6, 7, 2, 50), (4, 6, 7, 2, 3, 50))
    """
    gen = np.random.default_rng(rng)
    par = _params(design)
    L, I, k, A, n = len(design.languages), len(design.intermediates), design.seeds, len(design.attacks), design.n_examples
    f32 = np.float32
    root_shared, root_own = np.sqrt(design.shared), np.sqrt(1.0 - design.shared)

    def normal(*shape: int) -> np.ndarray:
        return gen.standard_normal(shape, dtype=f32)

    u = normal(sims, 1, I, k, 1)
    run_clean = (par.clean_sd[:, None, None, None] * (root_shared * u + root_own * normal(sims, L, I, k, 1))).astype(f32)
    clean_logit = (par.base[:, None, None, None] + par.clean_shift.T[:, :, None, None]).astype(f32) + run_clean
    clean_logit = clean_logit + design.difficulty_sd * normal(sims, L, 1, 1, n)
    clean_correct = gen.random(clean_logit.shape, dtype=f32) < _sigmoid(clean_logit)
    del clean_logit, run_clean
    w = normal(sims, 1, I, k, 1, 1)
    run_rob = (par.robust_sd * (root_shared * w + root_own * normal(sims, L, I, k, 1, 1))).astype(f32)
    fixed = (par.rob[None, None, :] + par.robust_shift.T[:, :, None]).astype(f32)  # (L, I, A)
    rob_logit = fixed[:, :, None, :, None] + run_rob + design.robustness_sd * normal(sims, L, 1, 1, A, n)
    survived = clean_correct[:, :, :, :, None, :] & (gen.random(rob_logit.shape, dtype=f32) < _sigmoid(rob_logit))
    del rob_logit
    dev_shift = _solve(ENGLISH_DEV_ACCURACY + design.gains()[0].mean(axis=1), design.difficulty_sd) - par.dev_base
    dev_logit = (par.dev_base + dev_shift[:, None, None]).astype(f32) + par.dev_sd * u[:, 0]
    dev_logit = dev_logit + design.difficulty_sd * normal(sims, 1, 1, design.n_dev)
    dev_correct = gen.random(dev_logit.shape, dtype=f32) < _sigmoid(dev_logit)
    return ExampleOutcomes(design, clean_correct, survived, dev_correct)


@functools.lru_cache(maxsize=64)
def true_contrasts(design: ExampleDesign) -> dict[str, np.ndarray]:
    """The population value of each contrast (intermediate minus baseline),
    per endpoint of :data:`analysis.endpoints.ENDPOINTS`, shape ``(I - 1, L)``:
    what an infinite number of examples and seeds would give. Exact (Gauss-
    Hermite quadrature over the normal example and run effects; cached).

    The conditional robust accuracy of a run tends to ``mean_a E_r[P(survive)]``
    (survival does not depend on clean difficulty), robust accuracy to clean
    accuracy times that (run effects on the two are independent).
    """
    from analysis.endpoints import CLEAN, CONDITIONAL_ROBUST, ROBUST_ACCURACY

    par = _params(design)
    clean_sd_total = np.sqrt(design.difficulty_sd**2 + par.clean_sd**2)  # (L,)
    clean = _mean_sigmoid(par.base + par.clean_shift, clean_sd_total)  # (I, L)
    rob_sd_total = float(np.sqrt(design.robustness_sd**2 + par.robust_sd**2))
    cond = _mean_sigmoid(par.rob + par.robust_shift[..., None], rob_sd_total).mean(axis=-1)  # (I, L)
    robust = clean * cond
    return {name: (v[1:] - v[0]) for name, v in ((CLEAN, clean), (CONDITIONAL_ROBUST, cond), (ROBUST_ACCURACY, robust))}


def _run_key(cell_key: str, seed: int) -> str:
    return f"{cell_key}-s{seed}"


def example_rows(outcomes: ExampleOutcomes, sim: int = 0, rng: int | np.random.Generator = 0) -> pd.DataFrame:
    """Per-example rows (:data:`raygrid.outcomes.EXAMPLE_COLUMNS` plus ``task``
    and ``language``) of simulation ``sim``: per confirm run, a clean row per
    example of each zero-shot language (``split=test``) and of English dev
    (``split=dev``), and an attacked row per example and attack. Gold labels,
    wrong predictions, perturbation rates and queries are drawn from ``rng``
    (they do not enter the endpoints)."""
    from raygrid.outcomes import CLEAN_STATUS, EXAMPLE_COLUMNS
    from raygrid.version import SCHEMA_VERSION

    d = outcomes.design
    gen = np.random.default_rng(rng)
    frames: list[pd.DataFrame] = []
    langs: list[tuple[str, str, np.ndarray, np.ndarray | None]] = [
        (lang, "test", outcomes.clean_correct[sim, j], outcomes.survived[sim, j]) for j, lang in enumerate(d.languages)
    ]
    langs.append(("en", "dev", outcomes.dev_correct[sim], None))
    for lang, split, clean, survived in langs:
        n = clean.shape[-1]
        keys = np.array([f"{lang}-{e:05d}" for e in range(n)], dtype=object)
        gold_idx = gen.integers(0, 3, size=n)
        labels = np.array([json.dumps(x) for x in _NLI_LABELS], dtype=object)
        wrong = labels[(gold_idx + gen.integers(1, 3, size=(len(d.intermediates), d.seeds, n))) % 3]
        for i, name in enumerate(d.intermediates):
            cell = f"cell-{name}-{d.target}"
            for s in range(d.seeds):
                ok = clean[i, s]
                clean_pred = np.where(ok, labels[gold_idx], wrong[i, s])
                common = {"run_key": _run_key(cell, s), "split": split, "stage": "confirm", "intermediate": name,
                          "intermediate_checkpoint": "" if i == 0 else f"intermediate-{name}-s{s}",
                          "seed": s, "cell_key": cell, "gold": labels[gold_idx], "clean_prediction": clean_pred,
                          "clean_score": ok.astype(float), "clean_correct": ok, "schema_version": SCHEMA_VERSION,
                          "task": d.target, "language": lang}  # fmt: skip
                frames.append(pd.DataFrame({**common, "example_key": keys, "attack": "none", "attacked_prediction": "null",
                                            "attacked_score": np.nan, "survived": pd.array([pd.NA] * n, dtype="boolean"),
                                            "status": CLEAN_STATUS, "perturbation_rate": np.nan, "queries": 1}))  # fmt: skip
                if survived is None:
                    continue
                for a, attack in enumerate(d.attacks):
                    kept = survived[i, s, a]
                    status = np.where(~ok, "skipped", np.where(kept, "failed", "successful"))
                    attacked = ~ok | kept
                    rate = np.where(ok, gen.uniform(0.05, 0.3, size=n), 0.0)
                    queries = np.where(ok, gen.integers(10, 300, size=n), 1)
                    frames.append(pd.DataFrame({**common, "example_key": keys, "attack": attack,
                                                "attacked_prediction": np.where(attacked, clean_pred, wrong[i, s]),
                                                "attacked_score": kept.astype(float),
                                                "survived": pd.array(kept, dtype="boolean"), "status": status,
                                                "perturbation_rate": rate, "queries": queries}))  # fmt: skip
    rows = pd.concat(frames, ignore_index=True)
    rows["queries"] = rows["queries"].astype("int64")
    rows["seed"] = rows["seed"].astype("int64")
    return rows[[*EXAMPLE_COLUMNS, "task", "language"]]


#: Attacked examples a synthetic attack processes per 1,000 model queries per second (examples_per_second).
_QUERIES_PER_SECOND = 1000.0


def aggregate_rows(examples: pd.DataFrame) -> pd.DataFrame:
    """The aggregate contract rows (docs/results.md) that the per-example rows
    ``examples`` (:func:`example_rows`) imply: per run, the task's clean
    ``accuracy`` per language and split (English dev included), and per
    language and attack ``clean_accuracy``, ``robust_accuracy``,
    ``attack_success_rate`` (``1 - sum(survived) / sum(clean_correct)``),
    ``mean_words_perturbed`` and ``mean_queries`` over the attacked examples,
    and ``examples_per_second`` (examples / (queries / 1,000 per second))."""
    keys = ["run_key", "task", "language", "split", "attack"]
    meta = ["stage", "intermediate", "seed", "cell_key"]
    clean = examples[examples["attack"] == "none"]
    frames = []
    grouped = clean.groupby(keys, sort=True)
    first = grouped[meta].first()
    frames.append(first.assign(metric="accuracy", value=grouped["clean_score"].mean(), n_examples=grouped.size()))
    attacked = examples[examples["attack"] != "none"].assign(
        correct=lambda f: f["clean_correct"].astype(float), kept=lambda f: f["survived"].astype(float),
        rate=lambda f: f["perturbation_rate"].where(f["clean_correct"].astype(bool)),
        q=lambda f: f["queries"].where(f["clean_correct"].astype(bool)),
    )  # fmt: skip
    g = attacked.groupby(keys, sort=True)
    first = g[meta].first()
    count = g.size()
    n_correct = g["correct"].sum()
    n_kept = g["kept"].sum()
    metrics = {
        "clean_accuracy": n_correct / count,
        "robust_accuracy": g["attacked_score"].mean(),
        "attack_success_rate": (1 - n_kept / n_correct.where(n_correct > 0)).fillna(0.0),
        "mean_words_perturbed": g["rate"].mean().fillna(0.0),
        "mean_queries": g["q"].mean().fillna(0.0),
        "examples_per_second": count / (g["queries"].sum() / _QUERIES_PER_SECOND),
    }
    for name, values in metrics.items():
        frames.append(first.assign(metric=name, value=values, n_examples=count))
    rows = pd.concat(frames).reset_index()
    configs = {name: json.dumps({"learning_rate": 1e-5 * (1 + k % 3), "epochs": 2 + k % 2}, sort_keys=True)
               for k, name in enumerate(sorted(rows["intermediate"].unique()))}  # fmt: skip
    rows["config"] = rows["intermediate"].map(configs)
    rows["checkpoint"] = "checkpoints/" + rows["run_key"]
    rows["model"] = "synthetic-xlmr"
    rows["value"] = rows["value"].astype(float)
    rows["seed"] = rows["seed"].astype("int64")
    rows["n_examples"] = rows["n_examples"].astype("int64")
    rows["schema_version"] = int(examples["schema_version"].iloc[0])
    return rows.sort_values([*keys, "metric"], ignore_index=True)


__all__ = [
    "ATTACKS",
    "ATTACK_SURVIVAL",
    "EXAMPLE_LANGUAGES",
    "ExampleDesign",
    "ExampleOutcomes",
    "aggregate_rows",
    "example_rows",
    "simulate_examples",
    "true_contrasts",
    "INTERMEDIATES",
    "Planted",
    "SCRIPTS",
    "XNLI_LANGUAGES",
    "confirm_rows",
    "script_of",
    "trial_rows",
    "write_sweep_dir",
]
