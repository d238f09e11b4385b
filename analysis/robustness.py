"""One target's robustness analysis on per-example rows: the design, the
cells, the per-attack contrasts, the headline per intermediate and the
correlation, each with what the design can and cannot detect.

Families (declared; the report names them):

* **cells** (confirmatory, per target): every (intermediate, zero-shot
  language) contrast on the primary endpoint; Holm over the family;
* **headline** (confirmatory, across targets): per intermediate, the
  contrast averaged over the target's zero-shot languages; Holm over every
  (target, intermediate) of the report (:mod:`analysis.report` applies it);
* **English** (per target, apart: English is the training language, not a
  zero-shot one); Holm within it;
* **per attack** (exploratory): unadjusted, for reading, not for claims;
* secondary endpoints (clean transfer, robust accuracy): reported with
  intervals, never flagged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.crossed import Contrast, min_detectable
from analysis.endpoints import CLEAN, CONDITIONAL_ROBUST, ENDPOINTS, ROBUST_ACCURACY
from analysis.examples import NO_ATTACK, CodedRows, PairedArrays, coded, confirm_examples, paired_arrays, present, select, with_attacks
from analysis.inference import cell_contrasts, correlation_test, endpoint_values, headline_contrasts, min_correlation_p
from analysis.stats import BASELINE, holm

ENGLISH = "en"
PRIMARY = CONDITIONAL_ROBUST
CELL_COLUMNS = [
    "intermediate", "language", "endpoint", "gain", "se", "ci_low", "ci_high", "p", "n_seeds", "n_examples", "mde",
    "p_holm", "flagged", "family",
]  # fmt: skip


@dataclass
class Design:
    """What the sweep measured for one target."""

    target: str
    intermediates: list[str]  # besides the baseline
    seeds: list[int]
    zero_shot: list[str]
    english: bool
    n_examples: dict[str, int]
    attacks: list[str]  # averaged: supported by every zero-shot language
    attacks_dropped: dict[str, list[str]]  # attack -> zero-shot languages without it
    replicated: dict[str, bool | None]  # intermediate -> per-seed intermediate checkpoints (None: unknown)


@dataclass
class TargetRobustness:
    """Everything :func:`analyze_examples` computed for one target."""

    design: Design
    cells: pd.DataFrame  # CELL_COLUMNS, every endpoint; primary zero-shot cells flagged
    per_attack: pd.DataFrame  # exploratory
    headline: pd.DataFrame  # per intermediate: primary endpoint over zero-shot languages
    correlation: dict[str, Any]
    missing: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, bytes] = field(default_factory=dict)  # PNGs, filled by the report


def _row(contrast: Contrast, j: int, alpha_family: float, **keys: Any) -> dict[str, Any]:
    mde = min_detectable(contrast, alpha=alpha_family)
    return {
        **keys,
        "gain": float(contrast.gain[j]),
        "se": float(contrast.se[j]),
        # Every endpoint is a share in [0, 1], so every gain lies in [-1, 1]:
        # an interval reaching past that (few seeds, a wide spread) is cut
        # there, which never excludes the true gain (coverage is unchanged).
        "ci_low": float(np.clip(contrast.ci_low[j], -1.0, 1.0)),
        "ci_high": float(np.clip(contrast.ci_high[j], -1.0, 1.0)),
        "p": float(contrast.p[j]),
        "mde": float(np.asarray(mde)[j]),
    }


def _values(arrays: PairedArrays, endpoint: str) -> np.ndarray:
    return endpoint_values(arrays.clean_score, arrays.clean_correct, arrays.survived, arrays.attacked_score, endpoint)


def _pair(arrays: PairedArrays, j: int) -> PairedArrays | None:
    """Baseline and intermediate ``j`` on the seeds both have (paired)."""
    have = present(arrays)
    seeds = [s for s in range(len(arrays.seeds)) if have[0, s] and have[j, s]]
    return select(arrays, [0, j], seeds) if seeds else None


def _each_contrast(arr: PairedArrays, endpoint: str, alpha: float) -> list[tuple[int, Contrast, int, int]]:
    """``(j, contrast, its index, seeds)`` of each intermediate ``j`` against
    the baseline: one vectorised call when every run is there, else one
    call per intermediate on the seeds it shares with the baseline."""
    have = present(arr)
    if have.all():
        contrast = cell_contrasts(_values(arr, endpoint), alpha=alpha)
        return [(j, contrast, j - 1, len(arr.seeds)) for j in range(1, len(arr.intermediates))]
    out = []
    for j in range(1, len(arr.intermediates)):
        pair = _pair(arr, j)
        if pair is not None:
            out.append((j, cell_contrasts(_values(pair, endpoint), alpha=alpha), 0, len(pair.seeds)))
    return out


def _replicated(codes: CodedRows) -> dict[str, bool | None]:
    """Per intermediate: were its seeds' runs started from one intermediate
    checkpoint each (True), all from one (False), or is it unknown (None)?"""
    if codes.checkpoint is None:
        return {}
    per: dict[str, dict[object, set[object]]] = {}
    for name, seed, checkpoint in codes.combos("intermediate", "seed", "checkpoint"):
        if name != BASELINE:
            per.setdefault(str(name), {}).setdefault(seed, set()).add(checkpoint)
    out: dict[str, bool | None] = {}
    for name, seeds in per.items():
        firsts = [sorted(map(str, c))[0] for c in seeds.values()]
        out[name] = None if len(firsts) < 2 else len(set(firsts)) == len(firsts)
    return out


def attacks_of(codes: CodedRows) -> dict[str, set[str]]:
    """The attacks with rows in each language (clean rows excluded)."""
    out: dict[str, set[str]] = {str(lang): set() for lang in codes.languages}
    for lang, attack in codes.combos("language", "attack"):
        if attack != NO_ATTACK:
            out[str(lang)].add(str(attack))
    return out


def design_of(codes: CodedRows, target: str) -> Design:
    """The design of one target's confirm per-example rows (:func:`coded`)."""
    languages = sorted(codes.languages)
    zero_shot = [lang for lang in languages if lang != ENGLISH]
    per_language = attacks_of(codes)
    every = sorted(set.intersection(*[per_language.get(lang, set()) for lang in zero_shot])) if zero_shot else []
    union = sorted(set().union(*per_language.values())) if per_language else []
    dropped = {a: [lang for lang in zero_shot if a not in per_language.get(lang, set())] for a in union if a not in every}
    return Design(
        target=target,
        intermediates=sorted(set(codes.intermediates) - {BASELINE}),
        seeds=sorted(codes.seeds),
        zero_shot=zero_shot,
        english=ENGLISH in languages,
        n_examples={},  # filled from the paired arrays
        attacks=every,
        attacks_dropped=dropped,
        replicated=_replicated(codes),
    )


def analyze_examples(
    examples: pd.DataFrame,
    target: str,
    *,
    alpha: float = 0.05,
    n_perm: int = 2000,
    rng: int | np.random.Generator = 0,
) -> TargetRobustness | None:
    """The robustness analysis of one target (``None``: no per-example
    confirm rows for it, or no baseline)."""
    rows = confirm_examples(examples, target)
    if rows.empty or BASELINE not in set(rows["intermediate"]):
        return None
    codes = coded(rows)
    design = design_of(codes, target)
    inters = [BASELINE, *design.intermediates]
    notes: list[str] = []
    attacks = design.attacks
    if not attacks:
        notes.append(
            "no attack is supported by every zero-shot language, so no attack-averaged endpoint is formed; "
            "see the per-attack (exploratory) table"
        )
    # One array build per language, with every attack it has; the common
    # attacks and each single attack are slices of it (the same subsample).
    full: dict[str, PairedArrays] = {}
    per_language = attacks_of(codes)
    for language in codes.languages:
        own = sorted(per_language.get(str(language), set()))
        got = paired_arrays(codes, str(language), inters, design.seeds, own)
        if got is not None:
            full[str(language)] = got
            design.n_examples[str(language)] = got.n_examples
    arrays = {lang: with_attacks(full[lang], attacks) for lang in design.zero_shot if lang in full}
    if design.english and ENGLISH in full:
        english_attacks = [a for a in attacks if a in full[ENGLISH].attacks]
        if english_attacks != attacks:
            lacking = ", ".join(a for a in attacks if a not in english_attacks)
            notes.append(
                f"English averages {', '.join(english_attacks)} (it has no rows of {lacking})"
                if english_attacks
                else f"English has no rows of the averaged attacks ({lacking}): no English robustness cells"
            )
        if english_attacks:
            arrays[ENGLISH] = with_attacks(full[ENGLISH], english_attacks)
    cells = _cells(arrays, design, attacks, alpha)
    per_attack = _per_attack(full, design, alpha)
    headline = _headline(arrays, design, alpha) if attacks else _empty_headline()
    correlation = _correlation(arrays, design, alpha, n_perm, rng) if attacks else {
        "statistic": None, "p": None, "n_intermediates": len(design.intermediates), "n_seeds": len(design.seeds),
        "testable": False, "reason": "no attack-averaged robustness endpoint (see above)",
    }  # fmt: skip
    return TargetRobustness(design, cells, per_attack, headline, correlation, _holes(codes, design), notes)


def _cells(arrays: Mapping[str, PairedArrays], design: Design, attacks: list[str], alpha: float) -> pd.DataFrame:
    endpoints = ENDPOINTS if attacks else (CLEAN,)
    records: list[dict[str, Any]] = []
    for language, arr in arrays.items():
        family = "english" if language == ENGLISH else "cells"
        m = max(1, len(design.intermediates) * (1 if family == "english" else max(1, len(design.zero_shot))))
        for endpoint in endpoints:
            for j, contrast, at, seeds in _each_contrast(arr, endpoint, alpha):
                records.append(
                    _row(contrast, at, alpha / m, intermediate=arr.intermediates[j], language=language, endpoint=endpoint,
                         n_seeds=seeds, n_examples=arr.n_examples,
                         family=family if endpoint == PRIMARY else "secondary")
                )  # fmt: skip
    out = pd.DataFrame(records, columns=[c for c in CELL_COLUMNS if c not in ("p_holm", "flagged")])
    out["p_holm"] = np.nan
    out["flagged"] = False
    for family in ("cells", "english"):
        mask = (out["family"] == family).to_numpy()
        if mask.any():
            out.loc[mask, "p_holm"] = holm(out.loc[mask, "p"].to_numpy(float))
            out.loc[mask, "flagged"] = out.loc[mask, "p_holm"].to_numpy(float) < alpha
    return out[CELL_COLUMNS]


def _per_attack(full: Mapping[str, PairedArrays], design: Design, alpha: float) -> pd.DataFrame:
    records: list[dict[str, Any]] = []
    for language in design.zero_shot:
        if language not in full:
            continue
        for attack in full[language].attacks:
            arr = with_attacks(full[language], [attack])
            for endpoint in (CONDITIONAL_ROBUST, ROBUST_ACCURACY):
                for j, contrast, at, seeds in _each_contrast(arr, endpoint, alpha):
                    records.append(
                        _row(contrast, at, alpha, intermediate=arr.intermediates[j], language=language, attack=attack,
                             endpoint=endpoint, n_seeds=seeds, n_examples=arr.n_examples)
                    )  # fmt: skip
    columns = ["intermediate", "language", "attack", "endpoint", "gain", "se", "ci_low", "ci_high", "p", "mde", "n_seeds", "n_examples"]
    return pd.DataFrame(records, columns=columns)


def _empty_headline() -> pd.DataFrame:
    return pd.DataFrame(columns=["intermediate", "gain", "se", "ci_low", "ci_high", "p", "mde", "n_seeds", "n_languages"])


def _headline(arrays: Mapping[str, PairedArrays], design: Design, alpha: float, n_family: int | None = None) -> pd.DataFrame:
    """Per intermediate over the zero-shot languages, on the seeds where the
    baseline and it have runs in every one of them."""
    zero = [arrays[lang] for lang in design.zero_shot if lang in arrays]
    if not zero:
        return _empty_headline()
    m = n_family or max(1, len(design.intermediates))
    records = []
    for j, name in enumerate(zero[0].intermediates[1:], start=1):
        have = np.logical_and.reduce([present(a)[[0, j]].all(axis=0) for a in zero])
        seeds = [s for s in range(len(design.seeds)) if have[s]]
        if not seeds:
            continue
        values = [_values(select(a, [0, j], seeds), PRIMARY) for a in zero]
        contrast = headline_contrasts(values, alpha=alpha)
        records.append(_row(contrast, 0, alpha / m, intermediate=name, n_seeds=len(seeds), n_languages=len(zero)))
    return pd.DataFrame(records, columns=_empty_headline().columns)


def _correlation(arrays: Mapping[str, PairedArrays], design: Design, alpha: float, n_perm: int, rng: Any) -> dict[str, Any]:
    zero = [arrays[lang] for lang in design.zero_shot if lang in arrays]
    m = len(design.intermediates)
    out: dict[str, Any] = {"statistic": None, "p": None, "n_intermediates": m, "n_seeds": 0, "testable": False, "reason": ""}
    if not zero:
        out["reason"] = "no zero-shot language has paired runs"
        return out
    have = np.logical_and.reduce([present(a).all(axis=0) for a in zero])
    seeds = [s for s in range(len(design.seeds)) if have[s]]
    out["n_seeds"] = len(seeds)
    floor = min_correlation_p(m)
    if m < 3:
        out["reason"] = f"needs at least 3 intermediate tasks besides the baseline to rank; this design has {m}"
    elif len(seeds) < 2:
        out["reason"] = (
            "needs at least 2 seeds in which every intermediate and the baseline have runs (cross-fitting splits "
            f"the seeds); this design has {len(seeds)}"
        )
    elif floor >= alpha:
        need = next(k for k in range(m, 12) if min_correlation_p(k) < alpha)
        out["reason"] = (
            f"with {m} intermediate tasks the smallest p the permutation test can reach is {floor:.3g} "
            f"(>= alpha {alpha}): this design cannot detect a correlation; it needs >= {need}"
        )
    if out["reason"]:
        return out
    sub = [select(a, list(range(len(a.intermediates))), seeds) for a in zero]
    stat, p = correlation_test([_values(a, CLEAN) for a in sub], [_values(a, PRIMARY) for a in sub], n_perm=n_perm, rng=rng)
    out.update(statistic=float(stat), p=float(p), testable=True, min_p=floor, flagged=bool(p < alpha))
    return out


def _holes(codes: CodedRows, design: Design) -> list[dict[str, Any]]:
    """(intermediate, seed) runs that some language lacks, given the union of
    intermediates, seeds and languages observed."""
    have = set(codes.combos("intermediate", "seed", "language"))
    languages = [*design.zero_shot, *([ENGLISH] if design.english else [])]
    holes = []
    for name in [BASELINE, *design.intermediates]:
        for seed in design.seeds:
            lacking = [lang for lang in languages if (name, seed, lang) not in have]
            if lacking:
                holes.append({"intermediate": name, "seed": seed, "languages": lacking})
    return holes


__all__ = ["CELL_COLUMNS", "Design", "ENGLISH", "PRIMARY", "TargetRobustness", "analyze_examples", "design_of"]
