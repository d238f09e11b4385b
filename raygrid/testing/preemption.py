"""A spot reclaim mid-unit, on the fake autoscaling cluster (issue 21).

:func:`preempt_mid_unit` takes away the worker node of a unit that is
provably in the middle of its training: Ray Train has registered one of its
checkpoints (``<sweep>/train/<unit key>/checkpoint_manager_snapshot.json``
names it, so a retried worker group is handed it), the checkpoint is not
the unit's last evaluation, and the unit has written neither its trial
record nor its final checkpoint. Its Train worker process is found through
the unit spans (``RAYGRID_UNIT_SPANS``, raygrid.sweep.ray_backend: the
worker's ``worker.start`` line has its pid) and its node through the node id
the fake provider puts in the environment of every process of a node. The
worker is first stopped (SIGSTOP), so it cannot finish between the last look
and the kill; then every process of its node gets SIGKILL at once, as a
spot reclaim takes a machine (no notice to Ray; the autoscaler finds the
node dead and replaces it).

A test reads what happened from the :class:`Preemption` it returns and from
:func:`reruns` (units finished before the kill that ran again: should be
none). Shared by tests/e2e/test_autoscaling_e2e.py and
benchmarks/autoscale_campaign.py.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from raygrid.fileio import read_json_lines
from raygrid.layout import CHECKPOINT_MARKER, CHECKPOINTS_DIR, TRAIN_DIR, TRIALS_DIR

if TYPE_CHECKING:  # pragma: no cover
    from raygrid.testing.autoscale import WorkerNode

#: Ray Train V2's record of a run's registered checkpoints (Ray 2.60: ``checkpoint_manager_snapshot.json``
#: in the run's folder, rewritten at each registration); its ``latest_checkpoint_result`` is what a
#: retried worker group gets from ``ray.train.get_checkpoint()``.
TRAIN_SNAPSHOT = "checkpoint_manager_snapshot.json"
#: The environment variable the fake provider starts every process of a node with: the node's Ray id.
NODE_ID_ENV = "RAY_OVERRIDE_NODE_ID_FOR_TESTING"


class Nodes(Protocol):
    """What :func:`preempt_mid_unit` needs of a cluster
    (:class:`~raygrid.testing.autoscale.FakeAutoscalingCluster`)."""

    def worker_nodes(self) -> list[WorkerNode]:
        """The live worker nodes."""
        ...

    def preempt_nodes(self, node_ids: list[str]) -> list[str]:
        """Kills every process of these nodes; returns the ids of those taken."""
        ...


@dataclass(frozen=True)
class Preemption:
    """A worker node taken away mid-unit."""

    unit: str  # the key of the unit whose worker node was taken
    node_id: str  # that node (Ray's id, hex)
    pid: int  # the unit's Train worker process that died with it
    step: int  # the step of the unit's newest checkpoint Train had registered before the kill
    finished: dict[str, bytes]  # the trial records (trials/<key>.json) of the units finished before, as they were
    at: float  # time.time() of the kill


def registered_step(sweep: Path, key: str) -> int | None:
    """The step of the newest checkpoint Ray Train has registered for the
    unit's run (``None``: none yet, or no run folder; a snapshot being
    rewritten reads as none)."""
    try:
        snapshot = json.loads((sweep / TRAIN_DIR / key / TRAIN_SNAPSHOT).read_text())
    except (OSError, ValueError):
        return None
    latest = snapshot.get("latest_checkpoint_result") if isinstance(snapshot, dict) else None
    step = (latest or {}).get("metrics", {}).get("step")
    return int(step) if isinstance(step, (int, float)) else None


def read_spans(spans: Path) -> list[dict[str, object]]:
    """The span lines written so far (a line being written is skipped)."""
    return read_json_lines(spans)


def worker_pids(spans: Path) -> dict[str, int]:
    """Each unit's newest Train worker process (its last ``worker.start`` span)."""
    return {str(s["unit"]): int(str(s["pid"])) for s in read_spans(spans) if s.get("event") == "worker.start"}


def node_of_process(pid: int) -> str | None:
    """The fake cluster node a live process belongs to (``None``: gone, or of no worker node)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    prefix = f"{NODE_ID_ENV}=".encode()
    return next((e[len(prefix):].decode() for e in environ if e.startswith(prefix)), None)


def finished_records(sweep: Path) -> dict[str, bytes]:
    """The trial records written so far, by unit key, as bytes."""
    folder = sweep / TRIALS_DIR
    return {p.name[: -len(".json")]: p.read_bytes() for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def _mid_training(sweep: Path, key: str, before_step: int) -> int | None:
    """The registered step, where the unit is mid-training: a registered
    checkpoint before ``before_step``, no record, no final checkpoint."""
    step = registered_step(sweep, key)
    if step is None or not 0 < step < before_step:
        return None
    if (sweep / TRIALS_DIR / f"{key}.json").exists() or (sweep / CHECKPOINTS_DIR / key / CHECKPOINT_MARKER).exists():
        return None
    return step


def preempt_mid_unit(
    cluster: Nodes,
    sweep: Path,
    spans: Path,
    *,
    before_step: int,
    sole_worker: bool = False,
    on_kill: Callable[[], None] | None = None,
) -> Preemption | None:
    """Takes away the worker node of a unit mid-training, if one is now.

    A unit qualifies when at least one other unit has finished (its record
    is written), Train has registered a checkpoint of it at a step in
    ``(0, before_step)`` (``before_step``: the unit's last step, so training
    is left to do), it has neither record nor final checkpoint, and its
    Train worker is alive on a worker node (``sole_worker``: the only live
    worker node, so that its replacement must be a new one). ``on_kill``
    runs once the unit is known to qualify, just before its node is taken
    (e.g. holding the replacement's launch). Returns ``None`` (nothing
    taken) when no unit qualifies now: call again.
    """
    finished = finished_records(sweep)
    if not finished or not (sweep / TRAIN_DIR).is_dir():
        return None
    pids = worker_pids(spans)
    for run in sorted((sweep / TRAIN_DIR).iterdir()):
        key, pid = run.name, pids.get(run.name)
        if key in finished or pid is None or _mid_training(sweep, key, before_step) is None:
            continue
        node = node_of_process(pid)
        live = {w.node_id for w in cluster.worker_nodes()}
        if node is None or node not in live or (sole_worker and live != {node}):
            continue
        try:
            os.kill(pid, signal.SIGSTOP)  # it trains no further: what is checked next stays true
        except ProcessLookupError:
            continue
        step = _mid_training(sweep, key, before_step)  # again, with the worker stopped
        if step is None:
            os.kill(pid, signal.SIGCONT)
            continue
        if on_kill is not None:
            on_kill()
        at = time.time()
        if node not in cluster.preempt_nodes([node]):
            os.kill(pid, signal.SIGCONT)
            continue
        return Preemption(unit=key, node_id=node, pid=pid, step=step, finished=finished, at=at)
    return None


def reruns(preemption: Preemption, sweep: Path, spans: Path) -> list[str]:
    """The units finished before the preemption that ran again after it (a
    Train worker started for them) or whose record changed ([]: none)."""
    started_again = {str(s["unit"]) for s in read_spans(spans)
                     if s.get("event") == "worker.start" and float(str(s["t"])) > preemption.at}  # fmt: skip
    now = finished_records(sweep)
    return sorted(k for k, record in preemption.finished.items() if k in started_again or now.get(k) != record)


__all__ = ["NODE_ID_ENV", "TRAIN_SNAPSHOT", "Nodes", "Preemption", "finished_records", "node_of_process",
           "preempt_mid_unit", "read_spans", "registered_step", "reruns", "worker_pids"]  # fmt: skip
