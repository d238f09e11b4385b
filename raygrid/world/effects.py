"""The three effects of the world, measured through raygrid's own code path.

Each function runs :func:`raygrid.cell.run_cell` (and, for attacks, the
attacked zero-shot phase of :mod:`raygrid.unit.phases` on the cell's
trained model), the phases a sweep's units run, on the world's data and
model:

* :func:`zero_shot` -- ``none -> xnli``: English MNLI training, zero-shot
  accuracy per language (chance: 1/3);
* :func:`intermediate_gain` -- ``none -> pawsx`` versus ``qqp -> pawsx``:
  PAWS-X accuracy per language;
* :func:`low_resource_gain` -- ``none -> xnli`` versus ``anli -> xnli``,
  the target trained on 300 English rows: XNLI accuracy per language;
* :func:`attack_drop` -- the ``none -> xnli`` model's clean accuracy and its
  accuracy under an attack, per language.

``benchmarks/world_effects.py`` repeats them over seeds (docs/world.md
holds the measured means and standard deviations); ``tests/world`` checks
them with margins set from that variance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygrid.cell import CellSpec, Overrides, run_cell
from raygrid.tasks.types import Split

#: Hyper-parameters of the effect cells (a tiny model wants a large learning rate).
XNLI_OVERRIDES = Overrides(learning_rate=1e-3, num_epochs=10.0, batch_size=32, max_seq_length=64)  # 3000 rows: 940 steps
# 64 rows: 32 steps, at a lower rate than the intermediate's so that phase 3 adapts QQP's encoder rather than overwriting it
PAWSX_OVERRIDES = Overrides(learning_rate=3e-4, num_epochs=8.0, batch_size=16, max_seq_length=64)
QQP_OVERRIDES = Overrides(learning_rate=1e-3, num_epochs=10.0, batch_size=32, max_seq_length=64)  # 3000 rows: 940 steps
ANLI_OVERRIDES = XNLI_OVERRIDES  # the same relation, as many rows
XNLI_LANGUAGES: tuple[str, ...] = ("ar", "de", "hi", "ru", "sw", "zh")
PAWSX_LANGUAGES: tuple[str, ...] = ("de", "ja", "zh")


@dataclass(frozen=True)
class EffectSettings:
    """What the effect cells train on and how much they evaluate."""

    max_train_examples: int | None = 3000
    max_eval_examples: int | None = 200
    xnli: Overrides = XNLI_OVERRIDES
    pawsx: Overrides = PAWSX_OVERRIDES
    qqp: Overrides = QQP_OVERRIDES
    anli: Overrides = ANLI_OVERRIDES
    low_resource: int = 300  # English rows of the low-resource XNLI target (low_resource_gain)


def _sources(data_dir: Path) -> Any:
    from raygrid.tasks import DataSources

    return DataSources(local_dirs=(Path(data_dir),))


def _accuracy(result: Any) -> dict[str, float]:
    return {r.language: float(r.metrics["accuracy"]) for r in result.languages}


def zero_shot(model_dir: Path, data_dir: Path, out: Path, *, seed: int, settings: EffectSettings = EffectSettings()) -> dict[str, float]:
    """``none -> xnli`` accuracy per language (English test included)."""
    return _accuracy(run_cell(_xnli_spec(model_dir, seed, settings), out, _sources(data_dir), device="cpu"))


def _xnli_spec(model_dir: Path, seed: int, settings: EffectSettings) -> CellSpec:
    return CellSpec(
        model=str(model_dir),
        intermediate="none",
        target="xnli",
        languages=("en", *XNLI_LANGUAGES),
        seed=seed,
        max_train_examples=settings.max_train_examples,
        max_eval_examples=settings.max_eval_examples,
        eval_split=Split.TEST,
        overrides=settings.xnli,
    )


def _gain(
    model_dir: Path,
    data_dir: Path,
    out: Path,
    *,
    seed: int,
    settings: EffectSettings,
    intermediate: str,
    target: str,
    languages: Sequence[str],
    inter_overrides: Overrides,
    target_overrides: Overrides,
    target_cap: int | None,
) -> dict[str, dict[str, float]]:
    def cell(model: str, intermediate: str, overrides: Overrides, cap: int | None) -> Any:
        spec = CellSpec(
            model=model,
            intermediate=intermediate,
            target=target,
            languages=("en", *languages),
            seed=seed,
            max_train_examples=cap,
            max_eval_examples=settings.max_eval_examples,
            eval_split=Split.TEST,
            overrides=overrides,
        )
        return run_cell(spec, out, _sources(data_dir), device="cpu")

    # run_cell trains both phases with one config and one cap; as in a
    # sweep, the intermediate phase has its own (inter_overrides, the
    # settings' cap) and phase 3 starts from the intermediate checkpoint
    # with the target's config and cap.
    inter = cell(str(model_dir), intermediate, inter_overrides, settings.max_train_examples).intermediate_checkpoint
    assert inter is not None
    return {
        "none": _accuracy(cell(str(model_dir), "none", target_overrides, target_cap)),
        intermediate: _accuracy(cell(str(inter), "none", target_overrides, target_cap)),
    }


def intermediate_gain(
    model_dir: Path, data_dir: Path, out: Path, *, seed: int, settings: EffectSettings = EffectSettings()
) -> dict[str, dict[str, float]]:
    """PAWS-X accuracy per language (English test and zero-shot) after ``none`` and after ``qqp``
    (PAWS-X's own 64 English training rows)."""
    return _gain(
        model_dir, data_dir, out, seed=seed, settings=settings, intermediate="qqp", target="pawsx",
        languages=PAWSX_LANGUAGES, inter_overrides=settings.qqp, target_overrides=settings.pawsx,
        target_cap=settings.max_train_examples,
    )  # fmt: skip


def low_resource_gain(
    model_dir: Path, data_dir: Path, out: Path, *, seed: int, settings: EffectSettings = EffectSettings()
) -> dict[str, dict[str, float]]:
    """XNLI accuracy per language (English test and zero-shot) after ``none``
    and after ``anli``, the target trained on ``settings.low_resource``
    English (MNLI) rows: the world's NLI intermediate task on a low-resource
    NLI target, where English skill carries into the other languages."""
    return _gain(
        model_dir, data_dir, out, seed=seed, settings=settings, intermediate="anli", target="xnli",
        languages=XNLI_LANGUAGES, inter_overrides=settings.anli, target_overrides=settings.xnli,
        target_cap=settings.low_resource,
    )  # fmt: skip


def attack_drop(
    model_dir: Path,
    data_dir: Path,
    out: Path,
    *,
    seed: int,
    attacks: Sequence[Mapping[str, Any]] = ({"name": "char_noise", "params": {"mode": "fixed", "rate": 0.3}},),
    settings: EffectSettings = EffectSettings(),
) -> dict[str, dict[str, tuple[float, float]]]:
    """``attack -> language -> (clean accuracy, robust accuracy)`` of the ``none -> xnli`` model."""
    from raygrid.attacks import get_attack
    from raygrid.models import load_tokenizer
    from raygrid.tasks import get_task
    from raygrid.unit import eval_settings, phases

    cell = run_cell(_xnli_spec(model_dir, seed, settings), out, _sources(data_dir), device="cpu")  # reused if trained
    assert cell.target_checkpoint is not None
    task = get_task("xnli")
    trained = phases.find_trained(cell.target_checkpoint)
    assert trained is not None
    model = phases.load(trained, task)
    tokenizer = load_tokenizer(str(cell.target_checkpoint))
    built = [get_attack(a["name"], **dict(a.get("params", {}))) for a in attacks]
    plan = [(language, Split.TEST, built) for language in ("en", *XNLI_LANGUAGES)]
    results = phases.attacked(
        model, tokenizer, task, plan, _sources(data_dir),
        settings=eval_settings(settings.xnli.max_seq_length or 64, device="cpu"),
        max_examples=settings.max_eval_examples, seed=seed, sample_dir=None,
    )  # fmt: skip
    out_map: dict[str, dict[str, tuple[float, float]]] = {}
    for _, result in results:
        out_map.setdefault(result.attack, {})[result.language] = (result.clean_accuracy, result.robust_accuracy)
    return out_map


__all__ = ["ANLI_OVERRIDES", "PAWSX_OVERRIDES", "QQP_OVERRIDES", "XNLI_OVERRIDES", "EffectSettings", "attack_drop", "intermediate_gain", "low_resource_gain", "zero_shot"]
