"""What ``raygrid status`` and the progress line say of the cluster's
autoscaler (raygrid/sweep/capacity.py), without a cluster: views parsed
from autoscaler states recorded from a live fake cluster
(tests/sweep/data/autoscaler/, see :func:`test_recorded_states_parse`), the
lines shown, the ETA, and a status that finds no cluster to ask (fast, no
Ray import, nothing written)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from test_readonly import _started_sweep, snapshot

from raygrid.cli import main
from raygrid.layout import LEASE_FILE
from raygrid.sweep import capacity
from raygrid.sweep.capacity import Capacity, NodeCounts
from raygrid.sweep.lease import Holder

DATA = Path(__file__).parent / "data" / "autoscaler"
SPOT, ONDEMAND, HEAD = "worker-spot", "worker-ondemand", "ray.head.default"


def _closed_port() -> str:
    """A loopback address nothing listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


# -- the lines shown ------------------------------------------------------------------------------------------------


def test_units_waiting_with_nodes_on_the_way_are_waiting_not_stuck() -> None:
    view = Capacity("h:1", {HEAD: NodeCounts(running=1), ONDEMAND: NodeCounts(pending=1, launching=1)}, 2, True)
    lines = capacity.describe(view)
    assert lines[0] == "cluster h:1 (autoscaler):"
    table = [line.split() for line in lines[1:-1]]
    assert table == [["node", "type", "running", "launching", "pending", "failed"],
                     [HEAD, "1", "0", "0", "0"], [ONDEMAND, "0", "1", "1", "0"]]  # fmt: skip
    assert lines[-1] == "units waiting for capacity: 2 (2 node(s) on the way: waiting for them, not stuck)"
    assert view.to_json() == {
        "address": "h:1", "autoscaler": True, "units_waiting_for_capacity": 2, "nodes_coming": 2,
        "node_types": {HEAD: {"running": 1, "launching": 0, "pending": 0, "failed": 0},
                       ONDEMAND: {"running": 0, "launching": 1, "pending": 1, "failed": 0}},
    }  # fmt: skip
    assert Capacity.from_json(view.to_json()) == view


def test_units_waiting_with_nothing_on_the_way_say_where_to_look() -> None:
    view = Capacity("h:1", {SPOT: NodeCounts(failed=3)}, 1, True)
    assert capacity.waiting_line(view).startswith("units waiting for capacity: 1, no node on the way (")
    assert capacity.waiting_line(replace(view, waiting=0)) == "units waiting for capacity: none"


def test_a_cluster_with_no_view_is_one_line() -> None:
    view = Capacity("10.0.1.2:6379", problem="not reachable from this machine")
    assert capacity.describe(view) == ["cluster 10.0.1.2:6379: not reachable from this machine"]
    assert view.to_json() == {"address": "10.0.1.2:6379", "problem": "not reachable from this machine"}
    assert Capacity.from_json(view.to_json()) == view


# -- replies recorded from a live fake cluster -----------------------------------------------------------------------


def _recorded() -> list[tuple[str, bytes, dict[str, object]]]:
    """(name, serialized reply, the view raygrid took of it then), in order."""
    from google.protobuf.json_format import Parse
    from ray.core.generated.autoscaler_pb2 import GetClusterStatusReply

    out = []
    for path in sorted(DATA.glob("*.json")):
        if path.name.endswith(".view.json"):
            continue
        reply = Parse(path.read_text(), GetClusterStatusReply())
        view = json.loads(path.with_name(path.name.replace(".json", ".view.json")).read_text())
        out.append((path.stem, reply.SerializeToString(), view))
    return out


def test_recorded_states_parse() -> None:
    """Ray's autoscaler (v2, Ray 2.60) replies recorded by
    ``benchmarks/autoscale_campaign.py --spot-failure never_running
    --no-preempt --record-states``: a sweep of 4 units, 2 at a time, at the
    cluster's minimum size; the spot type never comes and the on-demand twin
    takes over. Each parses to the view taken of it when it was recorded
    (fails when Ray's reply or its parser moves), and the sequence is what
    a user watching ``raygrid status`` sees."""
    recorded = _recorded()
    assert len(recorded) >= 8
    views = []
    for name, data, expected in recorded:
        view = capacity.from_reply(str(expected["address"]), data)
        assert view.to_json() == expected, name
        views.append(view)
    # the head alone, then the sweep's two units waiting with nothing asked for yet
    assert views[0].node_types == {HEAD: NodeCounts(running=1)} and views[0].waiting == 0
    assert all(v.autoscaler for v in views)
    # spot is asked for first and launches; the units wait for nodes on the way (not stuck)
    spot = next(v for v in views if v.node_types.get(SPOT, NodeCounts()).launching)
    assert spot.waiting == 2 and spot.coming >= 1
    assert capacity.waiting_line(spot).startswith("units waiting for capacity: 2 (")
    # spot never runs: the on-demand twin does, and the units stop waiting
    assert not any(v.node_types.get(SPOT, NodeCounts()).running for v in views)
    last = views[-1]
    assert last.node_types[ONDEMAND].running >= 1 and last.waiting == 0 and SPOT not in last.node_types


# -- the ETA --------------------------------------------------------------------------------------------------------


def test_the_eta_counts_a_waiting_unit_only_while_its_node_is_on_the_way() -> None:
    coming = Capacity("h:1", {ONDEMAND: NodeCounts(running=1, launching=1)}, 1, True)
    stuck = replace(coming, node_types={ONDEMAND: NodeCounts(running=1)})
    # 6 units left of 10 s each, 2 running: 30 s, whether or not one of them waits for a node on the way
    assert capacity.time_left(10.0, 6, 2, None) == (30.0, "")
    assert capacity.time_left(10.0, 6, 2, coming) == (30.0, ", 1 waiting for 1 node(s) on the way")
    # no node on the way: the waiting unit does not count, one runs
    assert capacity.time_left(10.0, 6, 2, stuck) == (60.0, ", 1 waiting for capacity, none on the way")
    # nothing runs and nothing is coming: no estimate, and the line says why
    assert capacity.time_left(10.0, 6, 1, stuck) == (None, ", 1 waiting for capacity, none on the way")
    # no finished unit yet, or no view: as before
    assert capacity.time_left(0.0, 6, 2, coming)[0] is None
    assert capacity.time_left(10.0, 6, 2, Capacity("h:1", problem="x")) == (30.0, "")


# -- a status that finds no cluster to ask ---------------------------------------------------------------------------


def test_probing_a_cluster_that_is_not_there_answers_at_once_without_ray() -> None:
    code = (
        "import sys\nfrom raygrid.sweep.capacity import probe\n"
        f"view = probe({_closed_port()!r})\nprint(view.problem is not None, 'ray' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.split() == ["True", "False"]


def test_status_asks_the_cluster_of_a_live_writer_only_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep, _, _ = _started_sweep(tmp_path)
    assert main(["status", str(sweep), "--json"]) == 0
    assert "capacity" not in json.loads(capsys.readouterr().out)  # no writer: status as before
    # a writer of this host that is gone: its cluster is not asked
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    holder = replace(Holder.this_process(None, ray_address=_closed_port()), pid=int(gone.stdout), start_time=None)
    (sweep / LEASE_FILE).write_bytes(holder.to_bytes())
    assert main(["status", str(sweep), "--json"]) == 0
    assert "capacity" not in json.loads(capsys.readouterr().out)
    # a live writer (this process) on a cluster that does not answer: said so, in the JSON and in the text
    live = Holder.this_process(None, ray_address=_closed_port())
    (sweep / LEASE_FILE).write_bytes(live.to_bytes())
    before = snapshot(sweep)
    assert main(["status", str(sweep), "--json"]) == 0
    progress = json.loads(capsys.readouterr().out)
    assert progress["writer"]["ray_address"] == live.ray_address
    assert progress["capacity"]["address"] == live.ray_address and "not reachable" in progress["capacity"]["problem"]
    assert main(["status", str(sweep)]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"cluster {live.ray_address}: not reachable")
    assert snapshot(sweep) == before


def test_a_lease_without_a_cluster_reads_as_before(tmp_path: Path) -> None:
    old = json.loads(Holder.this_process(None).to_bytes())
    old.pop("ray_address")  # a lease written before the field existed
    holder = Holder.from_bytes(json.dumps(old).encode())
    assert holder is not None and holder.ray_address is None and "ray_address" not in holder.summary()
    assert os.getpid() == holder.pid
