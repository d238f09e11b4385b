"""A fake cloud that refuses spot capacity: Ray's fake multi-node node
provider, with launch failures and slow boots (issue 21).

:class:`FakeCloudProvider` is what the head's autoscaler of
:class:`~raygrid.testing.autoscale.FakeAutoscalingCluster` launches nodes
with (named in its config as an external provider). Its provider config
takes, on top of ``FakeMultiNodeProvider``'s:

``refuse``
    ``{node type: failure}``: launches of that type fail, in one of two
    ways (:class:`LaunchFailure`), the two ways a cloud refuses capacity.
``hold_launches_while``
    a path: while that file exists, launches of the other node types wait
    before their node starts (a slow boot the test controls: what the
    cluster shows while nodes launch stays put until the test has looked).
``launch_log``
    a path: one JSON line per launch and termination (``t``, ``event``,
    ``type``, ``instance``), what the test reads back of the provider's side.

What Ray 2.60's autoscaler v2 does with each failure (read in
``ray/autoscaler/v2/instance_manager/reconciler.py``,
``subscribers/cloud_resource_monitor.py`` and ``v2/scheduler.py``):

- ``never_running``: the launch call succeeds and the instance is listed,
  but it never runs Ray (an EC2 spot request that stays open, a pod that
  stays pending). The instance goes QUEUED -> REQUESTED -> ALLOCATED and,
  after ``RAY_AUTOSCALER_RECONCILE_ALLOCATE_STATUS_TIMEOUT_S`` (3600 s by
  default) in ALLOCATED, to ALLOCATION_TIMEOUT; it is terminated, and the
  ``CloudResourceMonitor`` marks its type unavailable. The scheduler ranks
  equal-fit node types by (utilisation, recovering availability, priority,
  availability): the type is ranked below its on-demand twin, however high
  its priority, until its availability has recovered over
  ``RAY_AUTOSCALER_AVAILABILITY_RECOVERY_S`` (600 s; no retry at all in the
  first 10 s). This is the fallback of cluster.yaml.
- ``launch_error``: the launch call raises at once (EC2's
  InsufficientInstanceCapacity). The instance goes REQUESTED ->
  ALLOCATION_FAILED, a terminal state that no subscriber turns into
  unavailability: the next round asks for the same type again (its
  priority still wins), and never for its twin. Only its ``max_workers``
  (or a config change) sends the demand elsewhere.

Leans on Ray 2.60 internals of ``FakeMultiNodeProvider``
(``ray.autoscaler._private.fake_multi_node.node_provider``): its ``lock``,
its ``_nodes`` table (instance id -> ``{"tags": ..., "node": ...}``),
``_next_hex_node_id()`` and ``_terminate_node``;
tests/testing/test_fake_cloud.py fails when they move.
"""

from __future__ import annotations

import json
import os
import threading
import time
from enum import Enum
from pathlib import Path
from typing import Any

from ray.autoscaler._private.fake_multi_node.node_provider import FakeMultiNodeProvider
from ray.autoscaler.tags import (
    NODE_KIND_WORKER,
    STATUS_UNINITIALIZED,
    TAG_RAY_NODE_KIND,
    TAG_RAY_NODE_NAME,
    TAG_RAY_NODE_STATUS,
    TAG_RAY_USER_NODE_TYPE,
)

from raygrid.errors import ConfigError, one_of
from raygrid.fileio import read_json_lines

#: The autoscaler v2 knobs a fake cluster sets small (both read once, from the monitor's environment).
ALLOCATE_TIMEOUT_ENV = "RAY_AUTOSCALER_RECONCILE_ALLOCATE_STATUS_TIMEOUT_S"
AVAILABILITY_RECOVERY_ENV = "RAY_AUTOSCALER_AVAILABILITY_RECOVERY_S"
#: Longest a held launch waits for the hold to be lifted (a safety net: a test that forgets it still ends).
HOLD_LIMIT_S = 600.0


class LaunchFailure(str, Enum):
    """How a refused node type fails to launch (see the module's docstring)."""

    NEVER_RUNNING = "never_running"  # allocated, never runs Ray: ALLOCATION_TIMEOUT, the type is demoted
    LAUNCH_ERROR = "launch_error"  # the launch call fails at once: ALLOCATION_FAILED, asked again

    @classmethod
    def parse(cls, value: object, field: str) -> LaunchFailure:
        try:
            return cls(value)
        except ValueError:
            raise ConfigError(f"{field}: {value!r}; allowed: {one_of(m.value for m in cls)}") from None


class CapacityError(RuntimeError):
    """What a refused launch raises (as EC2's InsufficientInstanceCapacity does)."""


class FakeCloudProvider(FakeMultiNodeProvider):
    """``FakeMultiNodeProvider`` with refused node types, held launches and a launch log."""

    def __init__(self, provider_config: dict[str, Any], cluster_name: str) -> None:
        super().__init__(provider_config, cluster_name)
        refuse = provider_config.get("refuse") or {}
        self.refuse = {str(t): LaunchFailure.parse(f, f"provider.refuse.{t}") for t, f in refuse.items()}
        hold = provider_config.get("hold_launches_while")
        self.hold = Path(hold) if hold else None
        log = provider_config.get("launch_log")
        self.launch_log = Path(log) if log else None
        self._log_lock = threading.Lock()

    # -- launching ---------------------------------------------------------------------------------------------

    def create_node_with_resources_and_labels(
        self, node_config: dict[str, Any], tags: dict[str, str], count: int, resources: dict[str, float],
        labels: dict[str, str],
    ) -> None:  # fmt: skip
        node_type = tags[TAG_RAY_USER_NODE_TYPE]
        failure = self.refuse.get(node_type)
        if failure is LaunchFailure.LAUNCH_ERROR:
            self._log("refused", node_type, None)
            raise CapacityError(f"InsufficientInstanceCapacity: no {node_type} capacity now (fake cloud)")
        if failure is LaunchFailure.NEVER_RUNNING:
            for _ in range(count):
                self._allocate_never_running(tags)
            return
        self._wait_while_held(node_type)
        before = self._instances()
        super().create_node_with_resources_and_labels(node_config, tags, count, resources, labels)
        for instance in sorted(self._instances() - before):
            self._log("running", node_type, instance)

    def _allocate_never_running(self, tags: dict[str, str]) -> None:
        """An instance the cloud lists (allocated) that never starts Ray."""
        with self.lock:
            instance = self._next_hex_node_id()
            self._nodes[instance] = {
                "tags": {TAG_RAY_NODE_KIND: NODE_KIND_WORKER, TAG_RAY_NODE_NAME: instance,
                         TAG_RAY_NODE_STATUS: STATUS_UNINITIALIZED, **tags},  # fmt: skip
                "never_running": True,
            }
        self._log("allocated_never_running", tags[TAG_RAY_USER_NODE_TYPE], instance)

    def _wait_while_held(self, node_type: str) -> None:
        if self.hold is None or not self.hold.exists():
            return
        self._log("held", node_type, None)
        deadline = time.monotonic() + HOLD_LIMIT_S
        while self.hold.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        self._log("released", node_type, None)

    def _instances(self) -> set[str]:
        with self.lock:
            return set(self._nodes)

    # -- what the autoscaler asks of instances ------------------------------------------------------------------

    def is_running(self, node_id: str) -> bool:
        with self.lock:
            entry = self._nodes.get(node_id)
            return entry is not None and not entry.get("never_running")

    def terminate_node(self, node_id: str) -> None:
        with self.lock:
            entry = self._nodes.get(node_id)
            if entry is None or not entry.get("never_running"):
                node_type = (entry or {}).get("tags", {}).get(TAG_RAY_USER_NODE_TYPE, "")
                super().terminate_node(node_id)
            else:
                node_type = entry["tags"].get(TAG_RAY_USER_NODE_TYPE, "")
                del self._nodes[node_id]  # nothing was started for it
        self._log("terminated", node_type, node_id)

    # -- the log ---------------------------------------------------------------------------------------------------

    def _log(self, event: str, node_type: str, instance: str | None) -> None:
        if self.launch_log is None:
            return
        line = json.dumps({"t": time.time(), "event": event, "type": node_type, "instance": instance})
        with self._log_lock, open(self.launch_log, "a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())


def read_launch_log(path: Path) -> list[dict[str, Any]]:
    """The events of a :class:`FakeCloudProvider`'s launch log so far (a line being written is skipped)."""
    return read_json_lines(path)


__all__ = ["ALLOCATE_TIMEOUT_ENV", "AVAILABILITY_RECOVERY_ENV", "CapacityError", "FakeCloudProvider", "LaunchFailure",
           "read_launch_log"]  # fmt: skip
