"""One cell of the transfer grid, end to end, without Ray.

A cell is (pretrained model, intermediate task(s) or none, target task). It
runs the three phases of Phang et al. (2020):

1. start from the pretrained multilingual MLM (``spec.model``);
2. fine-tune on the English intermediate task (a multi-task mixture for
   ``all`` or ``a+b``), skipped for ``none``: the standard fine-tuning
   baseline;
3. fine-tune that encoder, with a fresh head, on the English training data
   of the target task (XNLI: MNLI; XQuAD/MLQA: SQuAD v1.1), selecting the
   best step on English dev data; then evaluate zero-shot on every requested
   language. BUCC and Tatoeba have no training data: phase 3 is only the
   evaluation of the phase-2 encoder (sentence retrieval).

Every phase's checkpoint lives at ``<output>/checkpoints/<key>`` where the
key hashes everything that determines it; an existing checkpoint is reused,
so an intermediate checkpoint is trained once for every target that starts
from it. The keys are those of the one-cell sweep of the same configuration
(:mod:`raygrid.unit.cellsweep`): a sweep whose folder is ``<output>`` reuses
the checkpoints a cell trained there, and the reverse. Result rows go to
``<output>/results`` (see :mod:`raygrid.store`). The phases themselves are
:mod:`raygrid.unit.phases`, shared with the sweep's units.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, make_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid import SCHEMA_VERSION
from raygrid.errors import ConfigError, one_of
from raygrid.evaluate import LanguageResult, check_languages, to_rows
from raygrid.fileio import output_dir_problem
from raygrid.hparams import SEARCHABLE
from raygrid.hparams import problem as hparam_problem
from raygrid.layout import RESULTS_DIR
from raygrid.spec.entries import ALL, NONE
from raygrid.store import is_done, read_rows, write_run
from raygrid.tasks.types import Role, Split, TaskSpec
from raygrid.train.config import TrainConfig
from raygrid.unit.keys import Needed
from raygrid.unit.settings import doc_stride
from raygrid.unit.keys import data_id as _data_id  # noqa: F401  (tests key local data through it)
from raygrid.unit.keys import sources_fingerprint as _sources_fingerprint  # noqa: F401

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn
    from transformers import PreTrainedTokenizerBase

    from raygrid.tasks.sources import DataSources

Log = Callable[[str], None]


def _check_overrides(self: Any) -> None:
    # The spec's check of each value (raygrid.hparams): a bad value fails
    # here, before any data is read or model loaded.
    for name, value in asdict(self).items():
        problem = None if value is None else hparam_problem(name, value)
        if problem is not None:
            raise ConfigError(f"hyper-parameter {name!r}: {problem}; allowed: {SEARCHABLE[name].allowed}")


if TYPE_CHECKING:  # pragma: no cover - the fields are the table's, generated below

    @dataclass(frozen=True)
    class Overrides:
        """Hyper-parameters that replace the tasks' defaults (``None``: keep)."""

        def __init__(self, **values: float | None) -> None: ...
        def __getattr__(self, name: str) -> Any: ...

else:
    #: Hyper-parameters that replace the tasks' defaults (``None``: keep): one
    #: field per searchable row of :mod:`raygrid.hparams`.
    Overrides = make_dataclass(
        "Overrides",
        [(name, f"{row.kind.__name__} | None", field(default=None)) for name, row in SEARCHABLE.items()],
        frozen=True,
        namespace={"__post_init__": _check_overrides, "__module__": __name__,
                   "__doc__": "Hyper-parameters that replace the tasks' defaults (``None``: keep)."},
    )  # fmt: skip


def train_config(tasks: Sequence[TaskSpec], overrides: Overrides, seed: int) -> TrainConfig:
    """The phase's config: the tasks' defaults (jiant's values; for a
    mixture the longest sequence length and the smallest batch), then the
    overrides."""
    first = tasks[0].defaults
    values: dict[str, Any] = {
        "learning_rate": first.learning_rate,
        "num_epochs": first.num_epochs,
        "batch_size": min(t.defaults.batch_size for t in tasks),
        "max_seq_length": max(t.defaults.max_seq_length for t in tasks),
        "seed": seed,
    }
    values.update({k: v for k, v in asdict(overrides).items() if v is not None})
    values["doc_stride"] = doc_stride(values["max_seq_length"])
    return TrainConfig(**values)


def intermediate_tasks(name: str) -> tuple[TaskSpec, ...]:
    """``none`` -> (); ``all`` -> every intermediate task; ``a+b`` -> those."""
    from raygrid.tasks import all_tasks, get_task

    if name == NONE:
        return ()
    intermediates = [t for t in all_tasks() if t.role is Role.INTERMEDIATE]
    if name == ALL:
        return tuple(intermediates)
    tasks = tuple(get_task(part.strip()) for part in name.split("+"))
    for task in tasks:
        if task.role is not Role.INTERMEDIATE:
            allowed = [NONE, ALL] + [t.name for t in intermediates]
            raise ConfigError(f"--intermediate {task.name!r} is a target task; allowed: {one_of(allowed)}")
    if len({t.name for t in tasks}) != len(tasks):
        raise ConfigError(f"--intermediate {name!r} names a task twice")
    return tuple(sorted(tasks, key=lambda t: t.name))


@dataclass(frozen=True)
class CellSpec:
    """What one cell computes.

    Attributes:
        model: hub id or local directory of the pretrained model.
        intermediate: ``none``, ``all``, a task, or ``a+b`` (multi-task).
        target: the target task.
        languages: evaluation languages (empty: all of the target's).
        seed: seeds heads, data order, subsamples.
        max_train_examples: cap per training task (seeded subsample).
        max_eval_examples: cap per language and split for dev and test.
        eval_split: split scored zero-shot (default: test where it exists).
        overrides: hyper-parameters replacing the tasks' defaults.
        retrieval_layer: retrieval targets: hidden layer to pool.
    """

    model: str
    intermediate: str
    target: str
    languages: tuple[str, ...] = ()
    seed: int = 0
    max_train_examples: int | None = None
    max_eval_examples: int | None = None
    eval_split: Split | None = None
    overrides: Overrides = field(default_factory=Overrides)
    retrieval_layer: int | None = None


@dataclass
class CellResult:
    """What :func:`run_cell` produced."""

    spec: CellSpec
    intermediate_checkpoint: Path | None
    target_checkpoint: Path | None
    run_key: str
    languages: list[LanguageResult]
    rows: list[dict[str, Any]]
    reused: list[str]


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def phase_data(
    head_task: TaskSpec,
    sources: DataSources,
    tokenizer: PreTrainedTokenizerBase,
    config: TrainConfig,
    *,
    max_train_examples: int | None = None,
    max_eval_examples: int | None = None,
    seed: int = 0,
    cache_dir: Path | None = None,
    log: Log = lambda message: None,
) -> Any:
    """Encoded English training features and dev rows for ``head_task``
    (from the task that supplies them: XNLI trains on MNLI).

    With ``cache_dir`` the features are tokenised once into a memory-mapped
    Arrow file there (:mod:`raygrid.tokencache`) and read from it by every
    later call with the same data, tokenizer and lengths; without, they are
    encoded in memory."""
    from raygrid.formats import EncodeSettings, get_format
    from raygrid.tasks import load_rows, resolve_data_task
    from raygrid.train.loop import TaskData

    fmt = get_format(head_task.format)
    train_task = resolve_data_task(head_task, Split.TRAIN)
    settings = EncodeSettings(max_seq_length=config.max_seq_length, doc_stride=config.doc_stride)

    def rows() -> Any:
        return load_rows(train_task, Split.TRAIN, "en", sources, max_examples=max_train_examples, seed=seed)

    if cache_dir is None:
        features: Any = fmt.encode(rows(), tokenizer, head_task, settings)
    else:
        from raygrid import tokencache

        fields = {
            "task": head_task.name,
            "format": fmt.name.value,
            "labels": list(head_task.label_names or ()),
            "num_choices": head_task.num_choices,
            "data_task": train_task.name,
            "split": Split.TRAIN.value,
            "language": "en",
            "data": tokencache.data_fingerprint(train_task, Split.TRAIN, "en", sources),
            "max_examples": max_train_examples,
            "sample_seed": seed,
            "tokenizer": tokencache.tokenizer_fingerprint(tokenizer),
            "max_seq_length": settings.max_seq_length,
            "doc_stride": settings.doc_stride,
            "schema": SCHEMA_VERSION,
        }
        features = tokencache.cached_features(
            Path(cache_dir),
            fields,
            lambda: (fmt.encode(chunk, tokenizer, head_task, settings) for chunk in tokencache.chunked(rows())),
            log=log,
        )
    dev_task = resolve_data_task(head_task, Split.DEV)
    dev = load_rows(dev_task, Split.DEV, "en", sources, max_examples=max_eval_examples, seed=seed)
    return TaskData(task=head_task, train=features, dev=dev)


def phase_model(
    source: str, tasks: Sequence[TaskSpec], *, seed: int, trust_remote_code: bool = False
) -> nn.Module:
    """The model a phase trains: one task's head on ``source``'s encoder, or a
    multi-task model with a head per task."""
    from raygrid.formats import get_format
    from raygrid.models import build_model, build_multitask_model

    heads = {t.name: (get_format(t.format).head, get_format(t.format).num_labels(t)) for t in tasks}
    if len(tasks) == 1:
        head, labels = heads[tasks[0].name]
        return build_model(source, head, num_labels=labels, seed=seed, trust_remote_code=trust_remote_code)
    return build_multitask_model(source, heads, seed=seed, trust_remote_code=trust_remote_code)


def _preflight(
    spec: CellSpec,
    inter_tasks: Sequence[TaskSpec],
    target: TaskSpec,
    languages: Sequence[str],
    sources: DataSources,
) -> dict[str, Needed]:
    """Loads every split the cell will need before anything trains, so a
    missing file, column or language fails in seconds, not after hours of
    intermediate training (and leaves nothing behind). Returns what each
    phase (``intermediate``, ``target``, ``evaluation``) reads."""
    from raygrid.evaluate import default_eval_split
    from raygrid.tasks import available_splits, load_rows, resolve_data_task

    def training(tasks: Sequence[TaskSpec]) -> Needed:
        out: Needed = []
        for task in tasks:
            out.append((resolve_data_task(task, Split.TRAIN).name, Split.TRAIN, "en", spec.max_train_examples))
            out.append((resolve_data_task(task, Split.DEV).name, Split.DEV, "en", spec.max_eval_examples))
        return out

    evaluation: Needed = []
    for language in languages:
        split = spec.eval_split or default_eval_split(target, language)
        evaluation.append((target.name, split, language, spec.max_eval_examples))
        if split is not Split.DEV and Split.DEV in available_splits(target, language):
            evaluation.append((target.name, Split.DEV, language, spec.max_eval_examples))
    phases = {
        "intermediate": training(inter_tasks),
        "target": training([target] if target.trainable else []),
        "evaluation": evaluation,
    }
    for task_name, split, language, cap in dict.fromkeys(item for items in phases.values() for item in items):
        load_rows(task_name, split, language, sources, max_examples=cap, seed=spec.seed)
    return phases


def run_cell(
    spec: CellSpec,
    output_dir: Path | str,
    sources: DataSources,
    *,
    device: str | None = None,
    log: Log = lambda message: None,
    trust_remote_code: bool = False,
) -> CellResult:
    """Runs one cell (see the module docstring) and writes its result rows.

    Its phases are those of the one-cell sweep of the same configuration
    (:mod:`raygrid.unit.cellsweep`), under that sweep's keys: a checkpoint
    found under ``<output>/checkpoints/<key>`` is reused, whether this
    command or a sweep (``--output`` its folder) trained it.

    ``trust_remote_code`` (``raygrid cell --trust-remote-code``) lets
    transformers run the code the model ships.

    Example:
        >>> from raygrid.tasks import DataSources
        >>> run_cell(CellSpec(model="FacebookAI/xlm-roberta-large", intermediate="mnli",
        ...                   target="xnli", languages=("de", "sw")),
        ...          "runs/cell", DataSources())  # doctest: +SKIP
    """
    from raygrid.models import load_tokenizer
    from raygrid.tasks import get_task
    from raygrid.train.loop import Placement
    from raygrid.unit import phases
    from raygrid.unit.cellsweep import cell_units, sweep_of
    from raygrid.unit.keys import data_id, encoder_key, evaluation_key, local_content, with_local_content
    from raygrid.unit.settings import eval_settings

    target = get_task(spec.target)
    if target.role is not Role.TARGET:
        raise ConfigError(f"--target {target.name!r} is an intermediate task; targets are the XTREME tasks")
    languages = check_languages(target, spec.languages or target.languages)
    inter_tasks = intermediate_tasks(spec.intermediate)
    device = device or _default_device()
    out = Path(output_dir)
    problem = output_dir_problem(out)
    if problem is not None:
        raise ConfigError(f"--output {str(output_dir)!r}: {problem}; allowed: a directory (created if missing)")
    tokenizer = load_tokenizer(spec.model, trust_remote_code=trust_remote_code)
    needed = _preflight(spec, inter_tasks, target, languages, sources)
    units = cell_units(sweep_of(
        model=spec.model,
        intermediate=spec.intermediate,
        target=target.name,
        languages=languages,
        params={name: value for name, value in asdict(spec.overrides).items() if value is not None},
        seed=spec.seed,
        max_train_examples=spec.max_train_examples,
        max_eval_examples=spec.max_eval_examples,
        eval_split=spec.eval_split,
        sources=sources,
    ))  # fmt: skip
    placement = Placement(device=device)
    reused: list[str] = []

    def run_phase(phase: phases.Phase, label: str, training: str, dev: str) -> phases.Trained:
        checkpoint = phases.checkpoint_of(out, phase.key)
        found = phases.find_trained(checkpoint)
        if found is not None:
            reused.append(str(checkpoint))
            log(f"{label}: reusing {checkpoint}")
            return found
        log(f"{label}: {training}")
        model, result = phases.train(
            phase,
            tokenizer,
            sources,
            build_data=phase_data,
            build_model=phase_model,
            train_cap=lambda task: spec.max_train_examples,
            max_eval_examples=spec.max_eval_examples,
            data_seed=spec.seed,
            placement=placement,
            trust_remote_code=trust_remote_code,
        )
        trained = phases.save(phase, model, tokenizer, result, checkpoint)
        log(f"{label}: {dev} {_fmt_metrics(result.metrics)}")
        return trained

    # Phase 2: English intermediate training (trained once per key).
    source = spec.model
    inter_ckpt: Path | None = None
    if inter_tasks:
        assert units.intermediate is not None and units.intermediate_key is not None
        inter = phases.Phase(
            stage="intermediate",
            key=with_local_content(units.intermediate_key, local_content(sources, needed["intermediate"])),
            tasks=inter_tasks,
            config=train_config(inter_tasks, spec.overrides, spec.seed),
            model=spec.model,
            source=spec.model,
            cell_key=units.intermediate.key,
            cell_name=units.intermediate.name,
        )
        names = ", ".join(t.name for t in inter_tasks)
        trained = run_phase(inter, f"intermediate {spec.intermediate}", f"training ({names})", "dev")
        inter_ckpt = trained.checkpoint.local
        source = str(inter_ckpt)

    # Phase 3: target fine-tuning on English data (not for retrieval tasks).
    target_ckpt: Path | None = None
    target_config: TrainConfig | None = None
    target_trained: phases.Trained | None = None
    if target.trainable:
        assert units.target_key is not None
        target_config = train_config([target], spec.overrides, spec.seed)
        phase = phases.Phase(
            stage="target",
            key=with_local_content(units.target_key, local_content(sources, needed["intermediate"] + needed["target"])),
            tasks=(target,),
            config=target_config,
            model=spec.model,
            source=source,
            parent=None if inter_ckpt is None else source,
            cell_key=units.target.key,
            cell_name=units.target.name,
        )
        start = "the pretrained model" if inter_ckpt is None else source
        target_trained = run_phase(phase, f"target {target.name}", f"training from {start}", "English dev")
        target_ckpt = target_trained.checkpoint.local
        eval_length = target_config.max_seq_length
        model_key = target_ckpt.name
    else:
        eval_length = target.defaults.max_seq_length
        model_key = encoder_key(inter_ckpt.name if inter_ckpt else None, spec.model)

    eval_split = spec.eval_split
    run_key = evaluation_key(
        model_key=model_key,
        task=target.name,
        languages=languages,
        split=eval_split,
        max_eval_examples=spec.max_eval_examples,
        retrieval_layer=spec.retrieval_layer,
        seed=spec.seed,
        data=data_id(sources, needed["evaluation"]),
    )
    results_dir = out / RESULTS_DIR
    if is_done(results_dir, run_key):
        log(f"evaluation: reusing results of run {run_key}")
        rows = read_rows(results_dir, run_keys=[run_key])
        return CellResult(spec, inter_ckpt, target_ckpt, run_key, _from_rows(rows), rows, reused + [run_key])

    if target_trained is not None:
        model_for_eval = phases.load(target_trained, target, trust_remote_code=trust_remote_code)
    else:
        model_for_eval = phases.encoder(source, seed=spec.seed, trust_remote_code=trust_remote_code)
    log(f"evaluation: {target.name} zero-shot in {len(languages)} language(s)")
    results = phases.zero_shot(
        model_for_eval,
        tokenizer,
        target,
        languages,
        sources,
        split=eval_split,
        settings=eval_settings(eval_length, device=device, retrieval_layer=spec.retrieval_layer),
        max_examples=spec.max_eval_examples,
        seed=spec.seed,
    )
    config_json = json.dumps(
        {"target": target_config.to_dict() if target_config else None, "intermediate": spec.intermediate},
        sort_keys=True,
    )
    result_rows = to_rows(
        results,
        run_key=run_key,
        task=target.name,
        stage="cell",
        intermediate=spec.intermediate,
        model=spec.model,
        seed=spec.seed,
        checkpoint=str(target_ckpt or source),
        config=config_json,
    )
    examples = _clean_examples(
        model_for_eval, tokenizer, target, results, sources,
        settings=eval_settings(eval_length, device=device, retrieval_layer=spec.retrieval_layer),
        max_examples=spec.max_eval_examples, seed=spec.seed, run_key=run_key,
        intermediate_checkpoint=inter_ckpt.name if inter_ckpt is not None else "",
        stage="cell", intermediate=spec.intermediate,
    )  # fmt: skip
    write_run(results_dir, run_key, result_rows, meta={"cell": _spec_json(spec)}, examples=examples)
    return CellResult(
        spec, inter_ckpt, target_ckpt, run_key, results, read_rows(results_dir, run_keys=[run_key]), reused
    )


def _clean_examples(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    task: TaskSpec,
    results: Sequence[LanguageResult],
    sources: DataSources,
    *,
    settings: Any,
    max_examples: int | None,
    seed: int,
    run_key: str,
    intermediate_checkpoint: str,
    **fields: Any,
) -> Any:
    """The clean per-example rows of every evaluated language (a clean pass
    over the same seeded subsample as the aggregate rows); ``None`` for a
    task format without an attack goal (retrieval)."""
    import pandas as pd

    from raygrid.attacks.evaluate import example_frame
    from raygrid.attacks.goals import goal_for
    from raygrid.unit import phases

    try:
        goal_for(task.format)
    except ConfigError:
        return None
    plan = [(r.language, r.split, ()) for r in results]
    measured = phases.attacked_with_examples(
        model, tokenizer, task, plan, sources, settings=settings, max_examples=max_examples, seed=seed, sample_dir=None
    )
    frames = [
        example_frame(records, run_key=run_key, split=split.value, intermediate_checkpoint=intermediate_checkpoint,
                      seed=seed, **fields)
        for split, records in measured.examples
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True) if frames else None


def _spec_json(spec: CellSpec) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(spec), default=str))


def _from_rows(rows: Sequence[dict[str, Any]]) -> list[LanguageResult]:
    by_language: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = by_language.setdefault(row["language"], {"split": row["split"], "n": row["n_examples"], "m": {}})
        entry["m"][row["metric"]] = row["value"]
    return [
        LanguageResult(language=lang, split=Split(e["split"]), metrics=e["m"], n_examples=e["n"], seconds=0.0)
        for lang, e in by_language.items()
    ]


def _fmt_metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items())) or "(no dev data)"


def format_table(results: Sequence[LanguageResult]) -> str:
    """A per-language table (language, split, n, then each metric)."""
    metric_names = sorted({m for r in results for m in r.metrics})
    header = ["language", "split", "n", *metric_names]
    lines = [header]
    for r in results:
        lines.append(
            [r.language, r.split.value, str(r.n_examples), *(f"{r.metrics.get(m, float('nan')):.4f}" for m in metric_names)]
        )
    if len(results) > 1:
        means = [sum(r.metrics.get(m, 0.0) for r in results) / len(results) for m in metric_names]
        lines.append(["mean", "", str(sum(r.n_examples for r in results)), *(f"{v:.4f}" for v in means)])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in lines)


__all__ = [
    "ALL",
    "NONE",
    "CellResult",
    "CellSpec",
    "Overrides",
    "format_table",
    "phase_data",
    "run_cell",
    "train_config",
]
