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
  accuracy under an attack, per language;
* :func:`robustness_by_intermediate` -- ``none``, ``qqp``, ``squad``,
  ``anli`` before the low-resource XNLI target: clean accuracy and the
  primary robustness endpoint (conditional robust accuracy, ``1 - attack
  success rate``) under an attack, per language.

``benchmarks/world_effects.py`` repeats them over seeds (docs/world.md
holds the measured means and standard deviations); ``tests/world`` checks
them with margins set from that variance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from raygrid.cell import CellSpec, Overrides, run_cell
from raygrid.errors import ConfigError
from raygrid.tasks.types import Split

#: Hyper-parameters of the effect cells (a tiny model wants a large learning rate).
XNLI_OVERRIDES = Overrides(learning_rate=1e-3, num_epochs=10.0, batch_size=32, max_seq_length=64)  # 3000 rows: 940 steps
# 64 rows: 32 steps, at a lower rate than the intermediate's so that phase 3 adapts QQP's encoder rather than overwriting it
PAWSX_OVERRIDES = Overrides(learning_rate=3e-4, num_epochs=8.0, batch_size=16, max_seq_length=64)
QQP_OVERRIDES = Overrides(learning_rate=1e-3, num_epochs=10.0, batch_size=32, max_seq_length=64)  # 3000 rows: 940 steps
ANLI_OVERRIDES = XNLI_OVERRIDES  # the same relation, as many rows
# 2000 rows of three-sentence contexts (about 60 tokens with the question): 630 steps
SQUAD_OVERRIDES = Overrides(learning_rate=1e-3, num_epochs=10.0, batch_size=32, max_seq_length=96)
#: The attack of the robustness cells (char_noise's fixed mode at the rate of attack_drop).
CHAR_NOISE: Mapping[str, Any] = {"name": "char_noise", "params": {"mode": "fixed", "rate": 0.3}}
ROBUSTNESS_INTERMEDIATES: tuple[str, ...] = ("qqp", "squad", "anli")
#: Intermediate epochs of the robustness cells: half the other effects' 10, so
#: that three intermediates per seed fit a 2-core budget (docs/world.md, "Robustness").
ROBUSTNESS_EPOCHS = 5.0
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
    squad: Overrides = SQUAD_OVERRIDES
    low_resource: int = 300  # English rows of the low-resource XNLI target (low_resource_gain)

    def with_intermediate_epochs(self, epochs: float) -> EffectSettings:
        """These settings with every intermediate task trained ``epochs`` epochs."""
        def trained(overrides: Overrides) -> Overrides:
            return Overrides(**{**asdict(overrides), "num_epochs": epochs})

        return replace(self, qqp=trained(self.qqp), anli=trained(self.anli), squad=trained(self.squad))

    def intermediate(self, task: str) -> Overrides:
        """The overrides an intermediate task trains with."""
        known = {"qqp": self.qqp, "anli": self.anli, "squad": self.squad}
        if task not in known:
            raise ConfigError(f"effect settings: intermediate {task!r}; allowed: {', '.join(sorted(known))}")
        return known[task]


#: The robustness cells' settings: the other effects', intermediates at ROBUSTNESS_EPOCHS.
ROBUSTNESS_SETTINGS = EffectSettings().with_intermediate_epochs(ROBUSTNESS_EPOCHS)


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
    attacks: Sequence[Mapping[str, Any]] = (CHAR_NOISE,),
    settings: EffectSettings = EffectSettings(),
) -> dict[str, dict[str, tuple[float, float]]]:
    """``attack -> language -> (clean accuracy, robust accuracy)`` of the ``none -> xnli`` model."""
    cell = run_cell(_xnli_spec(model_dir, seed, settings), out, _sources(data_dir), device="cpu")  # reused if trained
    assert cell.target_checkpoint is not None
    return {
        attack: {lang: (r.clean_accuracy, r.robust_accuracy) for lang, r in by.items()}
        for attack, by in _attack_xnli(cell.target_checkpoint, data_dir, seed=seed, attacks=attacks, settings=settings).items()
    }


def _attack_xnli(
    checkpoint: Path, data_dir: Path, *, seed: int, attacks: Sequence[Mapping[str, Any]], settings: EffectSettings
) -> dict[str, dict[str, Any]]:
    """``attack -> language -> AttackResult`` of an XNLI target checkpoint (the attacked phase of a unit)."""
    from raygrid.attacks import get_attack
    from raygrid.models import load_tokenizer
    from raygrid.tasks import get_task
    from raygrid.unit import eval_settings, phases

    task = get_task("xnli")
    trained = phases.find_trained(checkpoint)
    assert trained is not None
    model = phases.load(trained, task)
    tokenizer = load_tokenizer(str(checkpoint))
    built = [get_attack(a["name"], **dict(a.get("params", {}))) for a in attacks]
    plan = [(language, Split.TEST, built) for language in ("en", *XNLI_LANGUAGES)]
    results = phases.attacked(
        model, tokenizer, task, plan, _sources(data_dir),
        settings=eval_settings(settings.xnli.max_seq_length or 64, device="cpu"),
        max_examples=settings.max_eval_examples, seed=seed, sample_dir=None,
    )  # fmt: skip
    out_map: dict[str, dict[str, Any]] = {}
    for _, result in results:
        out_map.setdefault(result.attack, {})[result.language] = result
    return out_map


@dataclass(frozen=True)
class Robustness:
    """One (intermediate, language) of :func:`robustness_by_intermediate`, one seed.

    ``conditional_robust`` is the primary endpoint (analysis/endpoints.py):
    of the ``survived + broken`` test examples the model gets right clean,
    the share still right under attack (NaN when none is right clean).
    """

    clean: float
    survived: int
    broken: int

    @property
    def conditional_robust(self) -> float:
        attacked = self.survived + self.broken
        return self.survived / attacked if attacked else float("nan")


def robustness_by_intermediate(
    model_dir: Path,
    data_dir: Path,
    out: Path,
    *,
    seed: int,
    intermediates: Sequence[str] = ROBUSTNESS_INTERMEDIATES,
    attack: Mapping[str, Any] = CHAR_NOISE,
    settings: EffectSettings = ROBUSTNESS_SETTINGS,
) -> dict[str, dict[str, Robustness]]:
    """``intermediate -> language -> Robustness`` (``none`` first) of the low-resource
    XNLI target (``settings.low_resource`` English rows, as in :func:`low_resource_gain`)
    after each intermediate, under ``attack`` (:func:`robustness_after`, one by one)."""
    return {
        name: robustness_after(name, model_dir, data_dir, out, seed=seed, attack=attack, settings=settings)
        for name in ("none", *intermediates)
    }


def robustness_after(
    intermediate: str,
    model_dir: Path,
    data_dir: Path,
    out: Path,
    *,
    seed: int,
    attack: Mapping[str, Any] = CHAR_NOISE,
    settings: EffectSettings = ROBUSTNESS_SETTINGS,
) -> dict[str, Robustness]:
    """``language -> Robustness`` of the low-resource XNLI target after ``intermediate``
    (``none``: from the pretrained model), under ``attack``.

    The intermediate trains with its own overrides
    (:meth:`EffectSettings.intermediate`) on ``settings.max_train_examples``
    rows; the target then starts from its checkpoint. Cells are reused from
    ``out`` (two calls must not train the same cell at once: the benchmark
    runs ``none`` and each intermediate of a seed in its own process, which
    share no cell).
    """
    sources = _sources(data_dir)

    def cell(model: str, name: str, overrides: Overrides, cap: int | None, target: str = "xnli") -> Any:
        spec = CellSpec(
            model=model, intermediate=name, target=target,
            languages=("en", *XNLI_LANGUAGES) if target == "xnli" else ("en",), seed=seed,
            max_train_examples=cap, max_eval_examples=settings.max_eval_examples, eval_split=Split.TEST,
            overrides=overrides,
        )  # fmt: skip
        return run_cell(spec, out, sources, device="cpu")

    start = str(model_dir)
    if intermediate != "none":
        # run_cell trains a target after the intermediate phase; the intermediate
        # checkpoint's key does not name the target, so the cheapest one (PAWS-X's
        # 64 English rows) carries it, and the low-resource XNLI target then
        # starts from that checkpoint.
        carrier = cell(start, intermediate, settings.intermediate(intermediate), settings.max_train_examples, "pawsx")
        assert carrier.intermediate_checkpoint is not None
        start = str(carrier.intermediate_checkpoint)
    checkpoint = cell(start, "none", settings.xnli, settings.low_resource).target_checkpoint
    assert checkpoint is not None
    (by_language,) = _attack_xnli(checkpoint, data_dir, seed=seed, attacks=(attack,), settings=settings).values()
    return {
        lang: Robustness(clean=float(r.clean_accuracy), survived=int(r.n_failed), broken=int(r.n_successful))
        for lang, r in by_language.items()
    }


__all__ = [
    "ANLI_OVERRIDES",
    "CHAR_NOISE",
    "PAWSX_OVERRIDES",
    "QQP_OVERRIDES",
    "ROBUSTNESS_EPOCHS",
    "ROBUSTNESS_INTERMEDIATES",
    "ROBUSTNESS_SETTINGS",
    "SQUAD_OVERRIDES",
    "XNLI_OVERRIDES",
    "EffectSettings",
    "Robustness",
    "attack_drop",
    "intermediate_gain",
    "low_resource_gain",
    "robustness_after",
    "robustness_by_intermediate",
    "zero_shot",
]
