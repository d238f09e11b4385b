"""Queries over a sweep's results: the best configuration per language.

A *sweep directory* holds ``spec.yaml`` and ``results/`` (see docs/results.md).
Queries read only the results store (pandas + pyarrow): no Ray process, no
torch, so they work on a copy of the directory on a laptop.

Selection follows the zero-shot protocol of X-STILTs (Phang et al. 2020):
under ``english-dev`` the candidate (intermediate task + hyper-parameters) is
chosen on the **English dev** score alone, so one choice serves every
language; ``oracle`` picks per language (and attack) on the reported metric
itself, an analysis-only upper bound that looks at target-language data.

Example:
    >>> import raygrid
    >>> best = raygrid.best_config("runs/sweep", target="xnli", attack="polygloss")  # doctest: +SKIP
    >>> best[0].language, best[0].intermediate, best[0].value, best[0].n_seeds  # doctest: +SKIP
    ('ar', 'mnli', 0.412, 5)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from raygrid.attacks.metrics import ATTACK_METRICS  # the metrics the sweep writes per (language, attack)
from raygrid.errors import ConfigError, DataError, unknown
from raygrid.layout import RESULTS_DIR, SPEC_FILE
from raygrid.storage import Location

#: Metrics where a smaller value is better (for the defender).
LOWER_IS_BETTER: frozenset[str] = frozenset({"attack_success_rate"})
#: The stage whose runs analysis and queries use (per-seed retrains of each cell's best config).
CONFIRM_STAGE = "confirm"
NO_ATTACK = "none"

_COLUMNS = (
    "run_key",
    "language",
    "split",
    "attack",
    "metric",
    "value",
    "intermediate",
    "seed",
    "checkpoint",
    "config",
    "cell_key",
)


class Selection(str, Enum):
    """How the best candidate is chosen."""

    ENGLISH_DEV = "english-dev"  # zero-shot protocol: English dev score only
    ORACLE = "oracle"  # per language, on the reported metric (analysis only)


@dataclass(frozen=True)
class BestConfig:
    """The best candidate for one language (and attack, for attack metrics).

    ``value`` is the mean of ``metric`` over the candidate's ``n_seeds`` seed
    runs in ``language``; ``checkpoint`` is the seed run that scored best on
    the selection data, ``checkpoints`` all of them.
    """

    target: str
    language: str
    attack: str
    metric: str
    selection: str
    intermediate: str
    config: dict[str, Any]
    value: float
    std: float
    n_seeds: int
    checkpoint: str
    checkpoints: list[str] = field(default_factory=list)
    cell_key: str = ""
    selection_metric: str = ""
    selection_value: float = math.nan

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("value", "std", "selection_value"):
            out[key] = None if math.isnan(out[key]) else out[key]
        return out


def results_dir(sweep_dir: Path | str) -> Path | Location:
    """``sweep_dir/results`` after checking ``sweep_dir`` is a sweep directory
    (a local folder, or an ``s3://`` one: then a :class:`~raygrid.storage.Location`).

    Raises:
        DataError: the folder is missing, or lacks ``spec.yaml`` or ``results/``.
    """
    root = Location.of(sweep_dir)
    if root.remote:
        from raygrid.storage import storage_problem

        problem = storage_problem(root.uri)
        if problem:
            raise DataError(f"cannot read the sweep directory {root.uri!r}: {problem}")
    if not root.is_dir():
        raise DataError(f"not a sweep directory: {str(root)!r} does not exist")
    missing = [name for name in (SPEC_FILE, RESULTS_DIR) if not (root / name).exists()]
    if missing:
        raise DataError(f"not a sweep directory: {str(root)!r} has no {' or '.join(missing)}")
    return root / RESULTS_DIR if root.remote else root.local / RESULTS_DIR


def primary_metric(target: str) -> str | None:
    """The catalogue's primary metric of ``target`` (None for a task it lacks)."""
    from raygrid.tasks import get_task

    try:
        return get_task(target).metric
    except ConfigError:
        return None


def load_confirm_rows(sweep_dir: Path | str, target: str, *, columns: Sequence[str] = _COLUMNS) -> Any:
    """The confirm-stage rows of ``target`` as a DataFrame (checks the target exists).

    Raises:
        DataError: not a sweep directory, or no confirm rows for ``target``.
        ConfigError: ``target`` has no results in this sweep.
    """
    from raygrid.store import read_results, targets_in

    results = results_dir(sweep_dir)
    present = targets_in(results)
    if not present:
        raise DataError(f"no results in {str(results)!r}")
    if target not in present:
        raise ConfigError(unknown("target", target, present))
    frame = read_results(results, targets=[target], stages=[CONFIRM_STAGE], columns=list(columns))
    if frame.empty:
        raise DataError(f"no finished {CONFIRM_STAGE!r} runs for target {target!r} in {str(results)!r}")
    for column, empty in (("config", "{}"), ("cell_key", ""), ("checkpoint", ""), ("intermediate", "none")):
        if column in frame:
            frame[column] = frame[column].fillna(empty)
    if "config" in frame:
        unique = frame["config"].unique()
        frame["config"] = frame["config"].map({c: _without_seed(c) for c in unique})
    return frame


def _without_seed(config: str) -> str:
    """A run's config JSON minus its ``seed`` (the seed is its own column): the
    seed runs of one configuration are one candidate. Sweeps before 2026-11-26
    wrote the seed inside the config."""
    if '"seed"' not in config:
        return config
    try:
        parsed = json.loads(config)
    except ValueError:
        return config
    if not isinstance(parsed, dict):
        return config
    parsed.pop("seed", None)
    return json.dumps(parsed, sort_keys=True)


def _clean_view(frame: Any) -> Any:
    """Clean rows, one split per language: test where a language has it, else dev."""
    clean = frame[frame["attack"] == NO_ATTACK]
    has_test = clean.groupby("language")["split"].transform(lambda s: (s == "test").any())
    return clean[(clean["split"] == "test") | (~has_test & (clean["split"] == "dev"))]


def _result_name(attack: str, known: list[str]) -> str:
    """``attack`` as result rows name it: ``char_noise[mode=fixed]`` (a default
    spelt out) is ``char_noise``; an unknown name raises the one-line error."""
    import yaml

    from raygrid.attacks import get_attack

    name, _, inner = attack.partition("[")
    try:
        params = {k.strip(): yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in inner.rstrip("]").split(",") if kv)}
        label = get_attack(name.strip(), **params).label
    except (ConfigError, ValueError, TypeError, yaml.YAMLError):
        label = None
    if label not in known:
        raise ConfigError(unknown("attack", attack, known))
    return str(label)


def best_config(
    sweep_dir: Path | str,
    *,
    target: str,
    language: str | None = None,
    metric: str | None = None,
    attack: str | None = None,
    selection: Selection | str = Selection.ENGLISH_DEV,
) -> list[BestConfig]:
    """The best (intermediate task, hyper-parameters, checkpoint) per language.

    Args:
        sweep_dir: a sweep directory (``spec.yaml`` + ``results/``).
        target: the target task.
        language: only this language (default: every language with results).
        metric: what to report (default: ``robust_accuracy`` when ``attack``
            is given, else the target's primary metric).
        attack: only this attack; for an attack metric without it, one entry
            per (language, attack).
        selection: ``english-dev`` (zero-shot protocol) or ``oracle``.

    Returns:
        One :class:`BestConfig` per (language, attack), sorted.

    Raises:
        DataError / ConfigError: bad directory, unknown target, metric,
        attack or language, or nothing to select on (one-line messages).
    """
    try:
        mode = Selection(selection)
    except ValueError:
        raise ConfigError(unknown("selection", selection, [s.value for s in Selection])) from None
    frame = load_confirm_rows(sweep_dir, target)
    primary = primary_metric(target)
    attacks = sorted(set(frame["attack"].unique()) - {NO_ATTACK})
    if attack is not None and attack not in attacks:
        attack = _result_name(attack, attacks)
    if metric is None:
        metric = "robust_accuracy" if attack is not None else primary
        if metric is None:
            raise ConfigError(f"target {target!r} is not in the task catalogue: give --metric")
    attack_metric = metric in ATTACK_METRICS
    if attack_metric:
        view = frame[frame["attack"] != NO_ATTACK]
        if attack is not None:
            view = view[view["attack"] == attack]
    else:
        if attack is not None:
            raise ConfigError(f"metric {metric!r} is a clean metric; with --attack use one of {', '.join(ATTACK_METRICS)}")
        view = _clean_view(frame)
    known = sorted(set(frame.loc[frame["attack"] != NO_ATTACK, "metric"]) | set(_clean_view(frame)["metric"]))
    view = view[view["metric"] == metric]
    if view.empty:
        raise ConfigError(unknown("metric", metric, known))
    languages = sorted(view["language"].unique())
    if language is not None:
        if language not in languages:
            raise ConfigError(f"target {target!r}: {unknown('language', language, languages)}")
        view = view[view["language"] == language]
    view = view.assign(attack=view["attack"] if attack_metric else NO_ATTACK)

    candidate = ["intermediate", "config", "cell_key"]
    lower = metric in LOWER_IS_BETTER
    # Per (candidate, language, attack, seed): mean over duplicate rows (none expected).
    per_seed = view.groupby([*candidate, "language", "attack", "seed"], sort=True, observed=True, as_index=False).agg(
        value=("value", "mean"), checkpoint=("checkpoint", "first")
    )
    summary = per_seed.groupby([*candidate, "language", "attack"], observed=True, as_index=False)["value"].agg(
        ["mean", "std", "count"]
    )
    seeds_of = {key: group for key, group in per_seed.groupby([*candidate, "language", "attack"], observed=True)}

    if mode is Selection.ENGLISH_DEV:
        dev = frame[(frame["language"] == "en") & (frame["split"] == "dev") & (frame["attack"] == NO_ATTACK)]
        dev_metrics = sorted(dev["metric"].unique())
        selection_metric = metric if metric in dev_metrics else (primary or "")
        dev = dev[dev["metric"] == selection_metric]
        if dev.empty:
            raise DataError(
                f"no English dev rows of metric {selection_metric!r} for target {target!r}: "
                "english-dev selection has nothing to look at (try --selection oracle)"
            )
        dev_seed = dev.groupby([*candidate, "seed"], observed=True, as_index=False).agg(
            value=("value", "mean"), checkpoint=("checkpoint", "first")
        )
        dev_score = dev_seed.groupby(candidate, observed=True)["value"].mean()
        # Highest English dev score; ties broken by name for determinism.
        choice, choice_score = sorted(dev_score.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        mine = dev_seed[(dev_seed["intermediate"] == choice[0]) & (dev_seed["config"] == choice[1]) & (dev_seed["cell_key"] == choice[2])]
        best_checkpoint = str(mine["checkpoint"].iloc[int(mine["value"].to_numpy().argmax())])
        chosen = summary[(summary["intermediate"] == choice[0]) & (summary["config"] == choice[1]) & (summary["cell_key"] == choice[2])]
        if chosen.empty:
            raise DataError(f"the English-dev choice {choice[0]!r} has no {metric!r} rows for target {target!r}")
        chosen = chosen.assign(selection_value=choice_score, best_checkpoint=best_checkpoint)
    else:
        selection_metric = metric
        ordered = summary.sort_values([*(["mean"]), *candidate], ascending=[lower, True, True, True], kind="stable")
        chosen = ordered.groupby(["language", "attack"], observed=True, sort=False).head(1)
        chosen = chosen.assign(selection_value=chosen["mean"])
        best_checkpoint = None

    out = []
    for rec in chosen.to_dict("records"):
        cand = (rec["intermediate"], rec["config"], rec["cell_key"])
        seeds = seeds_of[(*cand, rec["language"], rec["attack"])]
        if best_checkpoint is None:
            values = seeds["value"].to_numpy()
            checkpoint = str(seeds["checkpoint"].iloc[int(values.argmin() if lower else values.argmax())])
        else:
            checkpoint = best_checkpoint
        out.append(
            BestConfig(
                target=target,
                language=str(rec["language"]),
                attack=str(rec["attack"]),
                metric=metric,
                selection=mode.value,
                intermediate=str(cand[0]),
                config=json.loads(cand[1]) if cand[1] else {},
                value=float(rec["mean"]),
                std=float(rec["std"]) if rec["count"] > 1 else math.nan,
                n_seeds=int(rec["count"]),
                checkpoint=checkpoint,
                checkpoints=sorted(str(c) for c in seeds["checkpoint"]),
                cell_key=str(cand[2]),
                selection_metric=selection_metric,
                selection_value=float(rec["selection_value"]),
            )
        )
    return sorted(out, key=lambda b: (b.language, b.attack))


__all__ = [
    "ATTACK_METRICS",
    "BestConfig",
    "LOWER_IS_BETTER",
    "Selection",
    "best_config",
    "load_confirm_rows",
    "primary_metric",
    "results_dir",
]
