"""raygrid.testing.fake_cloud without a cluster: a refused spot type is
listed and never runs, or fails at once; a held launch waits for the test;
and the Ray 2.60 facts the fallback rests on (only ALLOCATION_TIMEOUT makes
a node type unavailable; the knobs' names) still hold."""

from __future__ import annotations

import inspect
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from ray.autoscaler._private.fake_multi_node.node_provider import FakeMultiNodeProvider
from ray.autoscaler.tags import TAG_RAY_NODE_KIND, TAG_RAY_USER_NODE_TYPE

from raygrid.errors import ConfigError
from raygrid.testing.fake_cloud import (
    ALLOCATE_TIMEOUT_ENV,
    AVAILABILITY_RECOVERY_ENV,
    CapacityError,
    FakeCloudProvider,
    read_launch_log,
)

SPOT, ONDEMAND = "worker-spot", "worker-ondemand"


def _provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **config: Any) -> FakeCloudProvider:
    monkeypatch.setenv("RAY_FAKE_CLUSTER", "1")
    return FakeCloudProvider({"launch_log": str(tmp_path / "launches.jsonl"), **config}, "c")


def _launch(provider: FakeCloudProvider, node_type: str, count: int = 1) -> None:
    provider.create_node_with_resources_and_labels({}, {TAG_RAY_USER_NODE_TYPE: node_type}, count, {"CPU": 1.0}, {})


def _workers(provider: FakeCloudProvider) -> list[str]:
    return provider.non_terminated_nodes({TAG_RAY_NODE_KIND: "worker"})


def test_a_never_running_spot_node_is_listed_not_running_and_terminated_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = _provider(tmp_path, monkeypatch, refuse={SPOT: "never_running"})
    _launch(provider, SPOT, count=2)
    instances = _workers(provider)
    assert len(instances) == 2  # the cloud lists them (allocated) ...
    assert not any(provider.is_running(i) for i in instances)  # ... and none ever runs
    assert all(provider.node_tags(i)[TAG_RAY_USER_NODE_TYPE] == SPOT for i in instances)
    assert provider.is_running(provider._head_node_id)  # the head is untouched
    for instance in instances:
        provider.terminate_node(instance)  # nothing was started: nothing to kill
    assert _workers(provider) == []
    events = [(e["event"], e["type"]) for e in read_launch_log(tmp_path / "launches.jsonl")]
    assert events == [("allocated_never_running", SPOT)] * 2 + [("terminated", SPOT)] * 2


def test_a_launch_error_fails_at_once_and_lists_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    provider = _provider(tmp_path, monkeypatch, refuse={SPOT: "launch_error"})
    with pytest.raises(CapacityError, match="InsufficientInstanceCapacity"):
        _launch(provider, SPOT)
    assert _workers(provider) == []
    assert [e["event"] for e in read_launch_log(tmp_path / "launches.jsonl")] == ["refused"]


def test_a_bad_failure_mode_names_the_field_and_the_allowed_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError) as caught:
        _provider(tmp_path, monkeypatch, refuse={SPOT: "sometimes"})
    assert str(caught.value) == "provider.refuse.worker-spot: 'sometimes'; allowed: 'never_running' or 'launch_error'"


def test_a_held_launch_starts_its_node_only_once_released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[str] = []

    def start(self: FakeMultiNodeProvider, node_config: Any, tags: dict[str, str], count: int, *rest: Any) -> None:
        with self.lock:  # what Ray's provider does, without starting a raylet
            self._nodes[f"n{len(started)}"] = {"tags": {**tags, TAG_RAY_NODE_KIND: "worker"}}
        started.append(tags[TAG_RAY_USER_NODE_TYPE])

    monkeypatch.setattr(FakeMultiNodeProvider, "create_node_with_resources_and_labels", start)
    hold = tmp_path / "hold"
    hold.touch()
    provider = _provider(tmp_path, monkeypatch, hold_launches_while=str(hold))
    launch = threading.Thread(target=_launch, args=(provider, ONDEMAND))
    launch.start()
    log = tmp_path / "launches.jsonl"
    deadline = time.monotonic() + 60  # a safety net, not a measurement
    while not read_launch_log(log) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [e["event"] for e in read_launch_log(log)] == ["held"]
    assert started == [] and _workers(provider) == []  # requested, not started
    hold.unlink()
    launch.join(timeout=60)
    assert not launch.is_alive() and started == [ONDEMAND]
    assert [e["event"] for e in read_launch_log(log)] == ["held", "released", "running"]


def test_only_an_allocation_timeout_makes_a_node_type_unavailable_in_ray() -> None:
    """Ray 2.60's CloudResourceMonitor: an immediate launch failure
    (ALLOCATION_FAILED) leaves the type's availability alone; an allocated
    node that never ran (ALLOCATION_TIMEOUT) ranks it last (score 0.0)."""
    from ray.autoscaler.v2.instance_manager.subscribers.cloud_resource_monitor import CloudResourceMonitor
    from ray.core.generated.instance_manager_pb2 import Instance, InstanceUpdateEvent

    monitor = CloudResourceMonitor()
    monitor.notify([InstanceUpdateEvent(new_instance_status=Instance.ALLOCATION_FAILED, instance_type=SPOT)])
    assert monitor.get_recoverable_resource_availabilities() == {}
    monitor.notify([InstanceUpdateEvent(new_instance_status=Instance.ALLOCATION_TIMEOUT, instance_type=SPOT)])
    assert monitor.get_recoverable_resource_availabilities() == {SPOT: 0.0}


def test_the_ray_internals_the_fake_cloud_uses_are_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ray.autoscaler._private import constants
    from ray.autoscaler.v2 import scheduler
    from ray.autoscaler.v2.instance_manager import config

    provider = _provider(tmp_path, monkeypatch)
    assert {"_next_hex_node_id", "_terminate_node"} <= set(dir(FakeMultiNodeProvider))
    assert isinstance(provider._nodes, dict) and provider._head_node_id in provider._nodes
    assert hasattr(provider.lock, "acquire")
    assert ALLOCATE_TIMEOUT_ENV in inspect.getsource(config.InstanceReconcileConfig)
    assert constants.RAY_AUTOSCALER_AVAILABILITY_RECOVERY_S > 0 and AVAILABILITY_RECOVERY_ENV in inspect.getsource(constants)
    # the ranking the fallback relies on: recovering availability before priority
    ranking = inspect.getsource(scheduler.ResourceDemandScheduler._sched_best_node)
    assert ranking.index("recoverable_resource_availabilities.get") < ranking.index("r.node.priority")
