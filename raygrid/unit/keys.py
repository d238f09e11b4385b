"""The keys of a unit's phases: what names its checkpoints and result runs.

One scheme, the sweep's (:mod:`raygrid.grid` keys the cells, a trial unit
is its cell, its index and its parameters, a confirm unit is its confirm
cell, a confirm seed's own intermediate checkpoint is its intermediate cell
and seed), for every caller: a checkpoint ``raygrid cell`` trains is the one a
sweep of the same configuration trains (see :mod:`raygrid.unit.cellsweep`),
and the reverse. Changing any payload here re-keys existing sweep folders:
``tests/sweep/test_layout_keys.py`` holds the golden keys.

What only ``raygrid cell`` and ``raygrid attack`` do (no sweep has them) is
keyed here too: the zero-shot run of a cell, an attack run of a checkpoint,
and the content of local data files a cell reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raygrid import SCHEMA_VERSION
from raygrid.keys import stable_key
from raygrid.tasks.types import Split

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.tasks.sources import DataSources

#: (task, split, language, row cap) a phase reads.
Needed = list[tuple[str, Split, str, int | None]]


def trial_key(cell_key: str, index: int, params: Mapping[str, Any]) -> str:
    """The key of the ``index``-th trial of the cell ``cell_key`` with the
    hyper-parameters ``params`` (fixed and sampled): its checkpoint folder,
    record and result run. :class:`raygrid.sweep.plan.Planner` asks trials
    under these keys."""
    return stable_key({"cell": cell_key, "index": index, "params": dict(params)})


def replicate_key(intermediate_cell_key: str, seed: int) -> str:
    """The key of a confirm seed's own intermediate checkpoint
    (``confirm.replicate_intermediate``): the intermediate cell
    ``intermediate_cell_key``'s selected config retrained with ``seed``.
    One per (intermediate cell, seed), shared by every target cell that
    starts from that intermediate: the cell key fixes the study, so the
    selected config, and the seed the rest."""
    return stable_key(
        {"kind": "replicated_intermediate", "cell": intermediate_cell_key, "seed": seed, "schema": SCHEMA_VERSION}
    )


def sources_fingerprint(sources: DataSources) -> Any:
    """Where data comes from, as JSON (the keys of a cell's evaluation run)."""
    try:
        return json.loads(json.dumps(asdict(sources), default=str))
    except TypeError:
        return repr(sources)


def local_content(sources: DataSources, needed: Iterable[tuple[str, Split, str, int | None]]) -> dict[str, str]:
    """``task/split/language -> sha256`` of the user's local files among
    ``needed`` (empty for the hub and the bundled fixtures)."""
    return sources.local_fingerprint((task, split, language) for task, split, language, _ in needed)


def data_id(sources: DataSources, needed: Needed) -> Any:
    """What a cell's evaluation key says about its data: where it comes
    from, and the content of the user's local files it reads (so that a file
    edited in place gives new keys). Without local files, the sources alone:
    keys of work on the hub or the bundled fixtures are those of earlier
    versions."""
    where = sources_fingerprint(sources)
    content = local_content(sources, needed)
    return {"sources": where, "content": content} if content else where


def with_local_content(key: str, content: Mapping[str, str]) -> str:
    """``key`` itself, or, when a phase reads local files (``content``, from
    :func:`local_content`), a key of both: a local file edited in place is
    new data. A sweep's keys name its data folders, not their content, so a
    checkpoint trained on local files is shared only by ``raygrid cell``
    runs on the same content."""
    return stable_key({"key": key, "content": dict(content)}) if content else key


def encoder_key(parent_checkpoint_key: str | None, model: str) -> str:
    """The model a retrieval target evaluates as it is: the intermediate
    encoder (or the pretrained model for ``none``)."""
    parent = {"checkpoint_key": parent_checkpoint_key} if parent_checkpoint_key else {"model": model}
    return stable_key({"kind": "encoder", **parent})


def evaluation_key(
    *,
    model_key: str,
    task: str,
    languages: Sequence[str],
    split: Split | None,
    max_eval_examples: int | None,
    retrieval_layer: int | None,
    seed: int,
    data: Any,
) -> str:
    """The run key of ``raygrid cell``'s zero-shot evaluation of the model
    ``model_key`` (its target checkpoint's key, or :func:`encoder_key`)."""
    return stable_key(
        {
            "kind": "evaluation",
            "model_key": model_key,
            "task": task,
            "languages": list(languages),
            "split": split.value if split else None,
            "max_eval_examples": max_eval_examples,
            "retrieval_layer": retrieval_layer,
            "seed": seed,
            "data": data,
            "schema": SCHEMA_VERSION,
        }
    )


def attack_key(
    *,
    checkpoint: Path | str,
    task: str,
    languages: Sequence[str],
    attacks: Sequence[str],
    seed: int,
    max_examples: int | None,
) -> str:
    """The run key of ``raygrid attack``: a checkpoint (by its resolved
    path) under ``attacks`` (their labels) in ``languages``."""
    return stable_key(
        {
            "kind": "attack",
            "checkpoint": str(Path(checkpoint).resolve()),
            "task": task,
            "languages": list(languages),
            "attacks": list(attacks),
            "seed": seed,
            "max_examples": max_examples,
        }
    )


__all__ = [
    "Needed",
    "attack_key",
    "data_id",
    "encoder_key",
    "evaluation_key",
    "local_content",
    "replicate_key",
    "sources_fingerprint",
    "trial_key",
    "with_local_content",
]
