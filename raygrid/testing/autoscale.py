"""A fake multi-node Ray cluster on this machine, run by Ray's own autoscaler.

Ray's fake multi-node node provider (``FakeMultiNodeProvider``, the
harness behind ``ray.cluster_utils.AutoscalingCluster`` and Ray's "Testing
Autoscaling Locally") runs the real autoscaler in the head's monitor process
and launches each worker node it decides on as a raylet of this machine,
with logical resources. :class:`FakeAutoscalingCluster` starts one shaped
like ``cluster.yaml``: a head that hosts the driver and every trial function
(CPU 0, the ``raygrid_trial`` resource) and two worker types that carry the
CPUs and no trial resource, min 0, max ``max_workers`` each: a spot type
(priority 1) and its on-demand twin (priority 0), the same resources. The
nodes come from :class:`~raygrid.testing.fake_cloud.FakeCloudProvider`, Ray's
fake provider with ways to refuse the spot type (``spot_failure``) and to
hold launches while a test looks at the cluster (:meth:`hold_launches`).

Unlike ``AutoscalingCluster`` it never runs ``ray stop --force`` (which would
stop every Ray on the machine, other people's included): the cluster lives in
a temp folder of its own, on loopback ports of its own, and :meth:`shutdown`
kills the processes whose command line names that folder, nothing else.

Usage (tests/e2e/test_autoscaling_e2e.py, benchmarks/autoscale_campaign.py)::

    with FakeAutoscalingCluster(max_workers=2) as cluster:
        subprocess.run([..., "raygrid", "run", spec, "--address", cluster.address])
        cluster.worker_nodes()  # what the autoscaler has running now
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raygrid.sweep.cluster import TRIAL_RESOURCE, TRIAL_RESOURCE_TOTAL
from raygrid.testing.fake_cloud import ALLOCATE_TIMEOUT_ENV, LaunchFailure, read_launch_log

#: The node type name and id the fake provider gives the head (hard-wired there).
HEAD_TYPE = "ray.head.default"
FAKE_HEAD_NODE_ID = "fffffffffffffffffffffffffffffffffffffffffffffffffff00000"
#: The worker node types: stand-ins for cluster.yaml's GPU types (CPUs only here), a spot type and its
#: on-demand twin (cluster.yaml's priorities: spot first).
SPOT_TYPE = "worker-spot"
ONDEMAND_TYPE = "worker-ondemand"
WORKER_TYPE = SPOT_TYPE  # the type nodes come from when spot works
#: Seconds an allocated instance may take to run Ray before autoscaler v2 gives up on it
#: (ALLOCATION_TIMEOUT: the fallback of a spot type that never comes up). Ray's default is 3600 s;
#: a fake node runs Ray before the provider lists it, so only a refused one ever waits this long.
ALLOCATION_TIMEOUT_S = 8
#: The environment variable that marks this cluster's processes (its temp folder).
CLUSTER_MARK = "RAYGRID_FAKE_CLUSTER"
#: Every process of the fake cluster stays on loopback (Ray reads this before
#: it picks a node's address: 0 means "127.0.0.1", never the machine's
#: address), without Ray's token authentication (``ray start`` turns it on
#: where ~/.ray/auth_token exists, and a driver given an explicit address
#: never reads that token): a loopback-only test cluster needs none.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_AUTH_MODE": "disabled"}


def free_port() -> int:
    """A free loopback port (another Ray on the machine may hold Ray's defaults)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def autoscaler_config(
    max_workers: int,
    worker_cpus: float,
    idle_timeout_minutes: float,
    gcs_address: str,
    *,
    spot_failure: LaunchFailure | None = None,
    hold_file: Path | None = None,
    launch_log: Path | None = None,
) -> dict[str, Any]:
    """The cluster config the head's autoscaler runs: cluster.yaml's shape
    (a trial-only head; a spot worker type and its on-demand twin, no trial
    resource on either) on :class:`~raygrid.testing.fake_cloud.FakeCloudProvider`
    (``spot_failure``: how the spot type fails to launch; ``hold_file``:
    launches of working types wait while it exists; ``launch_log``: the
    provider's record of launches)."""
    worker = {"resources": {"CPU": worker_cpus}, "node_config": {}, "min_workers": 0, "max_workers": max_workers}
    return {
        "cluster_name": "raygrid-fake",
        "max_workers": 2 * max_workers,  # each type's own cap binds
        "upscaling_speed": 1.0,
        "idle_timeout_minutes": idle_timeout_minutes,
        "provider": {
            # the fake multi-node provider, named as an external one: as
            # "fake_multinode" autoscaler v2 reads its defaults from an
            # example.yaml the Ray 2.60 wheel does not ship, and dies
            "type": "external",
            "module": "raygrid.testing.fake_cloud.FakeCloudProvider",
            **({"refuse": {SPOT_TYPE: spot_failure.value}} if spot_failure else {}),
            **({"hold_launches_while": str(hold_file)} if hold_file else {}),
            **({"launch_log": str(launch_log)} if launch_log else {}),
            "gcs_address": gcs_address,  # the worker raylets join here (the provider's default is port 6379)
            "disable_node_updaters": True,
            "disable_launch_config_check": True,
            # autoscaler v2 (what `ray up` runs in Ray 2.60): one provider call per node
            "launch_multiple": True,
            "head_node_id": FAKE_HEAD_NODE_ID,
        },
        "head_node_type": HEAD_TYPE,
        "available_node_types": {
            HEAD_TYPE: {"resources": {"CPU": 0, TRIAL_RESOURCE: TRIAL_RESOURCE_TOTAL}, "node_config": {},
                        "max_workers": 0},  # fmt: skip
            SPOT_TYPE: {**worker, "priority": 1},
            ONDEMAND_TYPE: {**worker, "priority": 0},
        },
        "auth": {},
        "docker": {},
        "file_mounts": {},
        "cluster_synced_files": [],
        "file_mounts_sync_continuously": False,
        "rsync_exclude": [],
        "rsync_filter": [],
        "initialization_commands": [],
        "setup_commands": [],
        "head_setup_commands": [],
        "worker_setup_commands": [],
        "head_start_ray_commands": [],
        "worker_start_ray_commands": [],
    }


@dataclass
class WorkerNode:
    """A live worker node of the fake cluster, as Ray's GCS sees it."""

    node_id: str  # Ray's node id (hex)
    instance_id: str  # the provider's id of the node (what terminate_node takes)
    resources: dict[str, float]
    node_type: str = ""  # the autoscaler's node type (SPOT_TYPE, ONDEMAND_TYPE)


class FakeAutoscalingCluster:
    """A head node on 127.0.0.1 whose autoscaler adds and removes worker
    nodes (local raylets) of one type, up to ``max_workers``.

    Args:
        max_workers: the worker type's max_workers (min_workers is 0).
        worker_cpus: logical CPUs of one worker node.
        idle_timeout_minutes: how long a worker may sit idle before the
            autoscaler removes it.
        root: where the cluster's temp folder goes (a fresh one under the
            system's temp folder by default; Ray's socket paths must stay
            short, so keep it short).
        extra_env: more environment for every process of the cluster (the
            worker nodes' included: they inherit the head's), e.g.
            ``RAYGRID_UNIT_SPANS``.
        spot_failure: how the spot type fails to launch (``None``: it
            works): :class:`~raygrid.testing.fake_cloud.LaunchFailure`.
        allocation_timeout_s: autoscaler v2's ALLOCATION_TIMEOUT for this
            cluster (how long a refused ``never_running`` spot node is waited for).
    """

    def __init__(
        self,
        max_workers: int = 2,
        worker_cpus: float = 1,
        idle_timeout_minutes: float = 0.25,
        root: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        spot_failure: LaunchFailure | None = None,
        allocation_timeout_s: int = ALLOCATION_TIMEOUT_S,
    ) -> None:
        self.extra_env = dict(extra_env or {})
        self.max_workers = max_workers
        self.worker_cpus = worker_cpus
        self.idle_timeout_minutes = idle_timeout_minutes
        self.spot_failure = spot_failure
        self.allocation_timeout_s = allocation_timeout_s
        self.temp_dir = Path(tempfile.mkdtemp(prefix="rgas-", dir=root or "/tmp"))
        self.hold_file = self.temp_dir / "hold-launches"  # launches of working types wait while it exists
        self.launch_log = self.temp_dir / "launches.jsonl"  # the provider's side of every launch
        self.port = free_port()
        self.dashboard_port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.dashboard_url = f"http://127.0.0.1:{self.dashboard_port}"  # the State API's
        self.head_node_id = ""
        self._started = False
        self._gcs: Any = None

    # -- life cycle ------------------------------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        """The environment of the head and of every process that joins it."""
        return {
            **os.environ, **self.extra_env, **LOOPBACK_ENV, "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1",
            # autoscaler v2, as `ray up` runs it (the driver reads its node types from the monitor's config)
            "RAY_enable_autoscaler_v2": "1", "RAY_CLOUD_INSTANCE_ID": FAKE_HEAD_NODE_ID,
            "RAY_OVERRIDE_NODE_ID_FOR_TESTING": FAKE_HEAD_NODE_ID,
            "RAY_NODE_TYPE_NAME": HEAD_TYPE,  # as `ray up` starts the head (a worker node's provider sets its own)
            ALLOCATE_TIMEOUT_ENV: str(self.allocation_timeout_s),
            # inherited by every process of the cluster, even one whose title Ray rewrites (ray::IDLE)
            CLUSTER_MARK: str(self.temp_dir),
        }  # fmt: skip

    def start(self, timeout_s: float = 120) -> None:
        """Starts the head (and with it the autoscaler); returns once the
        head is up, before any worker exists."""
        config = self.temp_dir / "autoscaler.json"
        config.write_text(json.dumps(autoscaler_config(
            self.max_workers, self.worker_cpus, self.idle_timeout_minutes, self.address,
            spot_failure=self.spot_failure, hold_file=self.hold_file, launch_log=self.launch_log,
        )))  # fmt: skip
        ray = str(Path(sys.executable).with_name("ray"))
        command = [
            ray, "start", "--head", f"--autoscaling-config={config}", f"--temp-dir={self.temp_dir}",
            "--node-ip-address=127.0.0.1", f"--port={self.port}", "--num-cpus=0",
            f"--resources={json.dumps({TRIAL_RESOURCE: TRIAL_RESOURCE_TOTAL})}",
            "--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}",
            f"--ray-client-server-port={free_port()}", f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}", f"--metrics-export-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}", "--disable-usage-stats",
        ]  # fmt: skip
        self._started = True
        subprocess.run(command, env=self.env(), check=True, capture_output=True, timeout=timeout_s)
        self.head_node_id = self.wait_until(lambda: self._head_id(), timeout_s, "the head node")

    def shutdown(self) -> int:
        """Kills every process of this cluster (head, autoscaler, worker
        raylets, their workers, a driver started with :meth:`env`): SIGTERM,
        then SIGKILL for what is left; removes its temp folder; returns how
        many processes were still there after both (0: a clean shutdown)."""
        if not self._started:
            return 0
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + 15
            while time.time() < deadline and self.pids():
                time.sleep(0.2)
        left = len(self.pids())
        shutil.rmtree(self.temp_dir, ignore_errors=True)
        self._started = False
        return left

    def __enter__(self) -> FakeAutoscalingCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def pids(self) -> list[int]:
        """The processes of this cluster (this one excepted): those whose
        command line names its temp folder (Ray passes each its session
        folder) or whose environment carries :data:`CLUSTER_MARK` for it."""
        folder = str(self.temp_dir).encode()
        mark = f"{CLUSTER_MARK}={self.temp_dir}".encode()
        out = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                found = folder in (proc / "cmdline").read_bytes() or mark in (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if found and int(proc.name) != os.getpid():
                out.append(int(proc.name))
        return out

    # -- the fake cloud --------------------------------------------------------------------------------------------

    def hold_launches(self) -> None:
        """From now on, a node of a working type that the autoscaler
        launches waits (requested, not yet up) until :meth:`release_launches`."""
        self.hold_file.touch()

    def release_launches(self) -> None:
        """Held launches go on (their nodes start)."""
        self.hold_file.unlink(missing_ok=True)

    def launches(self) -> list[dict[str, Any]]:
        """The provider's record so far: ``{"t", "event", "type", "instance"}``
        per launch step (``held``, ``released``, ``running``,
        ``allocated_never_running``, ``refused``) and ``terminated``."""
        return read_launch_log(self.launch_log)

    # -- what the cluster holds ------------------------------------------------------------------------------------

    def nodes(self) -> list[dict[str, Any]]:
        """Ray's GCS's view of every node, live or dead: ``node_id`` (hex),
        ``alive``, ``head``, ``type`` (the autoscaler's node type),
        ``resources``, ``instance_id`` (the provider's). Read with a GCS
        client: the caller never joins the cluster as a driver."""
        from ray._raylet import GcsClient  # type: ignore[attr-defined]
        from ray.core.generated import gcs_pb2

        if self._gcs is None:
            self._gcs = GcsClient(address=self.address)
        infos = self._gcs.get_all_node_info(timeout=30)
        return [
            {"node_id": node_id.hex(), "alive": info.state == gcs_pb2.GcsNodeInfo.ALIVE, "head": info.is_head_node,
             "type": info.node_type_name, "instance_id": info.instance_id,
             "resources": {str(k): float(v) for k, v in info.resources_total.items()}}
            for node_id, info in infos.items()
        ]  # fmt: skip

    def worker_nodes(self) -> list[WorkerNode]:
        """The live worker nodes (every live node but the head)."""
        return [WorkerNode(n["node_id"], n["instance_id"], n["resources"], n["type"]) for n in self.nodes()
                if n["alive"] and not n["head"]]  # fmt: skip

    def _head_id(self) -> str | None:
        try:
            nodes = self.nodes()
        except Exception:  # noqa: BLE001 - the GCS not up yet
            self._gcs = None
            return None
        heads = [n["node_id"] for n in nodes if n["alive"] and n["head"]]
        return heads[0] if heads else None

    def wait_for_workers(self, count: int, timeout_s: float) -> list[WorkerNode]:
        """Waits until exactly ``count`` worker nodes are alive."""
        return self.wait_until(lambda: (w if len(w := self.worker_nodes()) == count else None), timeout_s,
                          f"{count} worker node(s)")  # fmt: skip

    def train_worker_nodes(self, alive_only: bool = False) -> set[str]:
        """The nodes that hosted (``alive_only``: host) a Ray Train worker
        actor, dead actors included (the State API; the GCS keeps them)."""
        from ray.util.state import list_actors

        filters: list[Any] = [("state", "=", "ALIVE")] if alive_only else []
        actors = list_actors(address=self.dashboard_url, filters=filters, limit=10000, raise_on_missing_output=False)
        return {str(a.node_id) for a in actors if "TrainWorker" in str(a.class_name) and a.node_id}

    def preempt_training_nodes(self) -> list[str]:
        """Takes away (:meth:`preempt_nodes`) every worker node hosting a
        live Train worker; returns the ids of the nodes taken ([] if no
        worker node hosts a Train worker now). To take one unit's node mid-
        training, see :func:`raygrid.testing.preemption.preempt_mid_unit`."""
        busy = self.train_worker_nodes(alive_only=True)
        return self.preempt_nodes([w.node_id for w in self.worker_nodes() if w.node_id in busy])

    def preempt_nodes(self, node_ids: list[str]) -> list[str]:
        """Takes away worker nodes the way a spot reclaim does: all
        processes of those nodes are killed at once (SIGKILL), with no notice
        to Ray; the provider still lists the instances until the autoscaler
        finds their Ray nodes dead and terminates them. Returns the ids of the
        nodes taken ([] where none of their processes was found). The head is
        never taken."""
        victims = [node for node in node_ids if node != self.head_node_id]
        # the provider starts a node's raylet with its id in the environment,
        # and every worker process of the node inherits it
        marks = {f"{name}={node}".encode() for node in victims for name in ("RAY_OVERRIDE_NODE_ID_FOR_TESTING", "RAY_CLOUD_INSTANCE_ID")}
        taken = set()
        for pid in self.pids():
            try:
                environ = set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"))
            except OSError:
                continue
            for mark in marks & environ:
                try:
                    os.kill(pid, signal.SIGKILL)
                    taken.add(mark.split(b"=")[1].decode())
                except ProcessLookupError:
                    pass
        return sorted(taken)

    @staticmethod
    def wait_until(probe: Any, timeout_s: float, what: str) -> Any:
        """``probe()`` once it is not None, polled every 0.5 s (TimeoutError after ``timeout_s``: a safety net)."""
        deadline = time.time() + timeout_s
        while time.time() < deadline:
            value = probe()
            if value is not None:
                return value
            time.sleep(0.5)
        raise TimeoutError(f"the fake cluster: no {what} after {timeout_s:g} s")


__all__ = ["ALLOCATION_TIMEOUT_S", "CLUSTER_MARK", "HEAD_TYPE", "ONDEMAND_TYPE", "SPOT_TYPE", "WORKER_TYPE",
           "FakeAutoscalingCluster", "WorkerNode", "autoscaler_config", "free_port"]  # fmt: skip
