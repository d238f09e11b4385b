"""What the cluster's autoscaler is doing for a sweep: nodes per node type
(running, launching, pending, failed launches) and the units waiting for
capacity, for ``raygrid status`` and the driver's progress line.

The only module of raygrid that reads the autoscaler's state, and it
imports Ray only to read it (``raygrid --help`` and a status with no
cluster to ask never import Ray). Ray 2.60's autoscaler v2 (what ``ray up``
runs, and KubeRay with autoscaler v2) reports its state to the GCS; ``ray
status`` reads it with ``ray.autoscaler.v2.sdk.get_cluster_status``: the
GCS's ``GetClusterStatus`` reply, parsed by
``ray.autoscaler.v2.utils.ClusterStatusParser`` into
``ray.autoscaler.v2.schema.ClusterStatus``. These are Ray's developer APIs,
not ``@PublicAPI``: tests/sweep/test_capacity.py parses replies recorded
from a live autoscaler (tests/sweep/data/) and fails when they move. An
autoscaler v1 reports no such state: the view then says so
(``autoscaler: false``), and the nodes it has are still counted.

What each count means, from autoscaler v2's instance states:

==========  =====================================================================
pending     QUEUED / REQUESTED: asked of the cloud, no instance yet (``pending_launches``)
launching   ALLOCATED / RAY_INSTALLING: an instance, Ray not up on it yet (``pending_nodes``)
running     a live Ray node of the type, busy or idle (``active_nodes``, ``idle_nodes``)
failed      launch requests the cloud refused at once (``failed_launches``: ALLOCATION_FAILED)
==========  =====================================================================

``waiting``: the placement groups the GCS has pending (``pending_gang_resource_requests``):
a unit's Ray Train worker group (or, on the local path, its trial) that no
live node can hold yet. A node that was allocated and never ran Ray is
dropped after ALLOCATION_TIMEOUT without a trace in this state (its type
is then ranked last: docs/cluster.md §10).

Example:
    >>> view = probe("10.0.1.2:6379", timeout_s=1.0)  # doctest: +SKIP
    >>> print("\\n".join(describe(view)))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: Seconds ``raygrid status`` waits for a TCP connection to the cluster's GCS before saying it is not reachable.
CONNECT_TIMEOUT_S = 1.0
#: Seconds it waits for the autoscaler's state once connected (a safety net: a GCS answers in milliseconds).
READ_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class NodeCounts:
    """Nodes of one node type, by where they are (see the module's table)."""

    running: int = 0
    launching: int = 0
    pending: int = 0
    failed: int = 0


#: The counts, in the order they are shown.
PLACES: tuple[str, ...] = tuple(f.name for f in fields(NodeCounts))


@dataclass(frozen=True)
class Capacity:
    """The autoscaler's view of a cluster, as raygrid shows it."""

    address: str  # the cluster's GCS address
    node_types: dict[str, NodeCounts] = field(default_factory=dict)
    waiting: int = 0  # placement groups waiting for a node (units waiting for capacity)
    autoscaler: bool = False  # an autoscaler (v2) reports its state
    problem: str | None = None  # why there is no view (not reachable, no answer); None: a view

    @property
    def coming(self) -> int:
        """Nodes on the way: pending or launching, all types."""
        return sum(c.pending + c.launching for c in self.node_types.values())

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"address": self.address}
        if self.problem is not None:
            return {**out, "problem": self.problem}
        return {
            **out,
            "autoscaler": self.autoscaler,
            "node_types": {name: asdict(counts) for name, counts in sorted(self.node_types.items())},
            "units_waiting_for_capacity": self.waiting,
            "nodes_coming": self.coming,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Capacity:
        if data.get("problem") is not None:
            return cls(str(data["address"]), problem=str(data["problem"]))
        types = {str(k): NodeCounts(**{f: int(v.get(f, 0)) for f in PLACES})
                 for k, v in dict(data.get("node_types") or {}).items()}  # fmt: skip
        return cls(str(data["address"]), types, int(data.get("units_waiting_for_capacity", 0)),
                   bool(data.get("autoscaler")))  # fmt: skip


# -- from Ray's state ---------------------------------------------------------------------------------------------


def from_status(address: str, status: Any, *, autoscaler: bool) -> Capacity:
    """Our view of a ``ray.autoscaler.v2.schema.ClusterStatus``."""
    counts: dict[str, dict[str, int]] = {}

    def add(node_type: str, where: str, n: int = 1) -> None:
        counts.setdefault(node_type, dict.fromkeys(PLACES, 0))[where] += n

    for node in [*status.active_nodes, *status.idle_nodes]:
        add(node.ray_node_type_name, "running")
    for node in status.pending_nodes:
        add(node.ray_node_type_name, "launching")
    for launch in status.pending_launches:
        add(launch.ray_node_type_name, "pending", int(launch.count))
    for launch in status.failed_launches:
        add(launch.ray_node_type_name, "failed", int(launch.count))
    waiting = len(status.resource_demands.placement_group_demand)
    return Capacity(address, {k: NodeCounts(**v) for k, v in counts.items()}, waiting, autoscaler)


def from_reply(address: str, reply: bytes) -> Capacity:
    """Our view of a serialized ``GetClusterStatusReply`` (what the GCS
    answers; ``ray status`` parses the same with the same parser)."""
    from ray.autoscaler.v2.schema import Stats
    from ray.autoscaler.v2.utils import ClusterStatusParser
    from ray.core.generated.autoscaler_pb2 import GetClusterStatusReply

    message = GetClusterStatusReply()
    message.ParseFromString(reply)
    status = ClusterStatusParser.from_get_cluster_status_reply(message, stats=Stats())
    # an autoscaler that reports (v2) has moved its state version past 0
    return from_status(address, status, autoscaler=message.autoscaling_state.autoscaler_state_version > 0)


def read(address: str, timeout_s: float = 5.0) -> Capacity:
    """Asks the GCS at ``address`` (in this process: for a process already
    connected to that cluster, such as the driver's segment process).
    Never raises: a failure is the view's ``problem``."""
    try:
        return from_reply(address, reply_bytes(address, timeout_s))
    except Exception as exc:  # noqa: BLE001 - any failure of Ray's client is a view with a problem
        return Capacity(address, problem=f"no answer from the cluster ({type(exc).__name__}: {exc})".splitlines()[0])


def reply_bytes(address: str, timeout_s: float = 5.0) -> bytes:
    """The GCS's serialized ``GetClusterStatusReply`` (what :func:`from_reply` reads; recorded as
    protobuf JSON in tests/sweep/data/autoscaler/ by benchmarks/autoscale_campaign.py --record-states)."""
    from ray._raylet import GcsClient  # type: ignore[attr-defined]

    return bytes(GcsClient(address=address).get_cluster_status(timeout_s=timeout_s))


def reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether a TCP connection to ``host:port`` opens within ``timeout_s``
    (Ray's own client waits tens of seconds for a GCS that is not there)."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def probe(address: str, timeout_s: float = READ_TIMEOUT_S) -> Capacity:
    """The view for ``raygrid status``, fast whatever the cluster's state:
    a cluster not reachable from here is said so within
    :data:`CONNECT_TIMEOUT_S`; a reachable one is asked in a child process
    (``python -m raygrid.sweep.capacity ADDRESS``) given ``timeout_s``, so
    neither Ray's import nor a client that hangs stays in this process."""
    if not reachable(address):
        return Capacity(address, problem="not reachable from this machine (run `raygrid status` on the head node)")
    try:
        done = subprocess.run([sys.executable, "-m", "raygrid.sweep.capacity", address], capture_output=True,
                              text=True, timeout=timeout_s)  # fmt: skip
        return Capacity.from_json(json.loads(done.stdout.strip().splitlines()[-1]))
    except subprocess.TimeoutExpired:
        return Capacity(address, problem=f"no answer from the cluster within {timeout_s:g} s")
    except (ValueError, IndexError, KeyError, TypeError):
        return Capacity(address, problem="no answer from the cluster (its state could not be read)")


# -- what raygrid shows -------------------------------------------------------------------------------------------


def describe(view: Capacity) -> list[str]:
    """``raygrid status``'s lines about the cluster (no trailing blank)."""
    if view.problem is not None:
        return [f"cluster {view.address}: {view.problem}"]
    head = f"cluster {view.address}" + (" (autoscaler)" if view.autoscaler else " (no autoscaler state: autoscaler v1, or none)")
    header = ("node type", *PLACES)
    rows = [(name, *(str(getattr(c, f)) for f in header[1:])) for name, c in sorted(view.node_types.items())]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    table = ["  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in (header, *rows)]  # fmt: skip
    return [f"{head}:", *table, waiting_line(view)]


def waiting_line(view: Capacity) -> str:
    """Whether units wait for capacity, and whether any is on the way."""
    if not view.waiting:
        return "units waiting for capacity: none"
    if view.coming:
        return (f"units waiting for capacity: {view.waiting} ({view.coming} node(s) on the way: waiting for them, "
                f"not stuck)")  # fmt: skip
    return (f"units waiting for capacity: {view.waiting}, no node on the way (node types at max_workers, launches "
            f"failing, or no type fits them: `ray status -v` on the head says which)")  # fmt: skip


def time_left(per_unit_s: float, remaining: int, running: int, view: Capacity | None) -> tuple[float | None, str]:
    """The progress line's estimate of the time left, and what it says of capacity.

    ``remaining`` units (the ``running`` ones included) of ``per_unit_s``
    each, run ``running`` at a time, where a unit waiting for a node counts
    as running only while a node is on the way (pending or launching: its
    node is coming); one waiting with no node on the way does not (nothing
    says when it will run). ``None`` when nothing runs or will run.
    """
    waiting = 0 if view is None or view.problem is not None else min(view.waiting, running)
    note = ""
    parallel = running
    if waiting and view is not None and view.coming:
        note = f", {waiting} waiting for {view.coming} node(s) on the way"
    elif waiting:
        parallel = running - waiting
        note = f", {waiting} waiting for capacity, none on the way"
    if remaining <= 0 or parallel <= 0 or per_unit_s <= 0:
        return None, note
    return per_unit_s * remaining / parallel, note


def main(argv: list[str] | None = None) -> int:
    """``python -m raygrid.sweep.capacity ADDRESS``: one JSON line, the view (see :func:`probe`)."""
    args = sys.argv[1:] if argv is None else argv
    print(json.dumps(read(args[0]).to_json()))
    return 0


__all__ = ["CONNECT_TIMEOUT_S", "READ_TIMEOUT_S", "Capacity", "NodeCounts", "describe", "from_reply", "from_status",
           "probe", "reachable", "read", "reply_bytes", "time_left", "waiting_line"]  # fmt: skip

if __name__ == "__main__":
    sys.exit(main())
