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
from it. Result rows go to ``<output>/results`` (see :mod:`raygrid.store`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, make_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid import SCHEMA_VERSION, __version__
from raygrid.errors import ConfigError, one_of
from raygrid.evaluate import LanguageResult, check_languages, evaluate_languages, to_rows
from raygrid.fileio import output_dir_problem
from raygrid.hparams import SEARCHABLE
from raygrid.hparams import problem as hparam_problem
from raygrid.keys import stable_key
from raygrid.layout import CHECKPOINTS_DIR, RESULTS_DIR
from raygrid.spec.entries import ALL, NONE
from raygrid.store import is_done, read_rows, write_run
from raygrid.tasks.types import Role, Split, TaskSpec
from raygrid.train.config import TrainConfig

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
    values["doc_stride"] = min(128, values["max_seq_length"] // 2)
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


def _sources_fingerprint(sources: DataSources) -> Any:
    try:
        return json.loads(json.dumps(asdict(sources), default=str))  # type: ignore[call-overload]
    except TypeError:
        return repr(sources)


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


def _train(
    source: str,
    tasks: Sequence[TaskSpec],
    config: TrainConfig,
    tokenizer: PreTrainedTokenizerBase,
    sources: DataSources,
    spec: CellSpec,
    device: str,
    trust_remote_code: bool,
) -> tuple[nn.Module, Any]:
    from raygrid.train.loop import Placement, train_phase

    data = [
        phase_data(
            task,
            sources,
            tokenizer,
            config,
            max_train_examples=spec.max_train_examples,
            max_eval_examples=spec.max_eval_examples,
            seed=spec.seed,
        )
        for task in tasks
    ]
    model = phase_model(source, tasks, seed=config.seed, trust_remote_code=trust_remote_code)
    result = train_phase(model, data, config, tokenizer, placement=Placement(device=device))
    return model, result


#: (task, split, language, row cap) a phase reads.
Needed = list[tuple[str, Split, str, int | None]]


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


def _data_id(sources: DataSources, needed: Needed) -> Any:
    """What a phase's key says about its data: where it comes from, and the
    content of the user's local files it reads (so that a file edited in
    place gives new keys). Without local files, the sources alone: keys of
    work on the hub or the bundled fixtures are those of earlier versions."""
    where = _sources_fingerprint(sources)
    content = sources.local_fingerprint((task, split, language) for task, split, language, _ in needed)
    return {"sources": where, "content": content} if content else where


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

    ``trust_remote_code`` (``raygrid cell --trust-remote-code``) lets
    transformers run the code the model ships.

    Example:
        >>> from raygrid.tasks import DataSources
        >>> run_cell(CellSpec(model="FacebookAI/xlm-roberta-large", intermediate="mnli",
        ...                   target="xnli", languages=("de", "sw")),
        ...          "runs/cell", DataSources())  # doctest: +SKIP
    """
    from raygrid.formats import EncodeSettings, EvalSettings, HeadKind
    from raygrid.models import build_model, load_tokenizer, load_trained, save_checkpoint
    from raygrid.tasks import get_task

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
    reused: list[str] = []

    # Phase 2: English intermediate training (trained once per key).
    source = spec.model
    inter_ckpt: Path | None = None
    if inter_tasks:
        config = train_config(inter_tasks, spec.overrides, spec.seed)
        key = stable_key(
            {
                "kind": "intermediate",
                "model": spec.model,
                "tasks": [t.name for t in inter_tasks],
                "train": config.to_dict(),
                "max_train_examples": spec.max_train_examples,
                "max_eval_examples": spec.max_eval_examples,
                "data": _data_id(sources, needed["intermediate"]),
                "schema": SCHEMA_VERSION,
            }
        )
        inter_ckpt = out / CHECKPOINTS_DIR / key
        if inter_ckpt.is_dir():
            reused.append(str(inter_ckpt))
            log(f"intermediate {spec.intermediate}: reusing {inter_ckpt}")
        else:
            log(f"intermediate {spec.intermediate}: training ({', '.join(t.name for t in inter_tasks)})")
            model, result = _train(spec.model, inter_tasks, config, tokenizer, sources, spec, device, trust_remote_code)
            meta = {
                "kind": "intermediate",
                "key": key,
                "model": spec.model,
                "tasks": [t.name for t in inter_tasks],
                "train": config.to_dict(),
                "dev_metrics": result.metrics,
                "best_step": result.best_step,
                "steps": result.steps,
                "raygrid_version": __version__,
                "schema_version": SCHEMA_VERSION,
            }
            save_checkpoint(model, tokenizer, inter_ckpt, meta)
            log(f"intermediate {spec.intermediate}: dev {_fmt_metrics(result.metrics)}")
        source = str(inter_ckpt)

    # Phase 3: target fine-tuning on English data (not for retrieval tasks).
    target_ckpt: Path | None = None
    target_config: TrainConfig | None = None
    parent = {"checkpoint_key": inter_ckpt.name} if inter_ckpt else {"model": spec.model}
    model_for_eval: nn.Module | None = None
    if target.trainable:
        target_config = train_config([target], spec.overrides, spec.seed)
        key = stable_key(
            {
                "kind": "target",
                **parent,
                "task": target.name,
                "train": target_config.to_dict(),
                "max_train_examples": spec.max_train_examples,
                "max_eval_examples": spec.max_eval_examples,
                "data": _data_id(sources, needed["target"]),
                "schema": SCHEMA_VERSION,
            }
        )
        target_ckpt = out / CHECKPOINTS_DIR / key
        from raygrid.formats import get_format

        head = get_format(target.format).head
        if target_ckpt.is_dir():
            reused.append(str(target_ckpt))
            log(f"target {target.name}: reusing {target_ckpt}")
        else:
            log(f"target {target.name}: training from {'the pretrained model' if inter_ckpt is None else source}")
            model_for_eval, result = _train(
                source, [target], target_config, tokenizer, sources, spec, device, trust_remote_code
            )
            meta = {
                "kind": "target",
                "key": key,
                "parent": source,
                "intermediate": spec.intermediate,
                "task": target.name,
                "train": target_config.to_dict(),
                "dev_metrics": result.metrics,
                "best_step": result.best_step,
                "steps": result.steps,
                "raygrid_version": __version__,
                "schema_version": SCHEMA_VERSION,
            }
            save_checkpoint(model_for_eval, tokenizer, target_ckpt, meta)
            log(f"target {target.name}: English dev {_fmt_metrics(result.metrics)}")
        if model_for_eval is None:
            model_for_eval = load_trained(target_ckpt, head, trust_remote_code=trust_remote_code)
        eval_length = target_config.max_seq_length
        model_key = target_ckpt.name
    else:
        model_for_eval = build_model(source, HeadKind.ENCODER, seed=spec.seed, trust_remote_code=trust_remote_code)
        eval_length = target.defaults.max_seq_length
        model_key = stable_key({"kind": "encoder", **parent})

    settings = EvalSettings(
        encode=EncodeSettings(max_seq_length=eval_length, doc_stride=min(128, eval_length // 2)),
        device=device,
        retrieval_layer=spec.retrieval_layer,
    )
    eval_split = spec.eval_split
    run_key = stable_key(
        {
            "kind": "evaluation",
            "model_key": model_key,
            "task": target.name,
            "languages": list(languages),
            "split": eval_split.value if eval_split else None,
            "max_eval_examples": spec.max_eval_examples,
            "retrieval_layer": spec.retrieval_layer,
            "seed": spec.seed,
            "data": _data_id(sources, needed["evaluation"]),
            "schema": SCHEMA_VERSION,
        }
    )
    results_dir = out / RESULTS_DIR
    if is_done(results_dir, run_key):
        log(f"evaluation: reusing results of run {run_key}")
        rows = read_rows(results_dir, run_keys=[run_key])
        return CellResult(spec, inter_ckpt, target_ckpt, run_key, _from_rows(rows), rows, reused + [run_key])

    model_for_eval.to(device)
    log(f"evaluation: {target.name} zero-shot in {len(languages)} language(s)")
    results = evaluate_languages(
        model_for_eval,
        tokenizer,
        target,
        languages,
        sources,
        split=eval_split,
        settings=settings,
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
    write_run(results_dir, run_key, result_rows, meta={"cell": _spec_json(spec)})
    return CellResult(
        spec, inter_ckpt, target_ckpt, run_key, results, read_rows(results_dir, run_keys=[run_key]), reused
    )


def _spec_json(spec: CellSpec) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(spec), default=str))  # type: ignore[no-any-return]


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
