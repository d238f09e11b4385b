"""The sweep's writer lease (raygrid.sweep.lease): one writer per sweep
folder, locally and on S3 (a moto server on 127.0.0.1), and run_sweep
holding it (Ray replaced by stand-ins)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from raygrid.storage import Location
from raygrid.sweep import lease
from raygrid.sweep.lease import LEASE_FILE, Holder, SweepLeaseError, acquire, current_writer, process_start_time

S3_BUCKET = "raygrid-test"  # the s3_env fixture's bucket (tests/sweep/conftest.py)


class Recorder:
    """``log`` and ``on_lost`` of a lease under test: lines, and whether it was told it lost."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lost = threading.Event()

    def log(self, line: str) -> None:
        self.lines.append(line)

    def kw(self) -> dict[str, Any]:
        return {"log": self.log, "on_lost": self.lost.set}


@pytest.fixture()
def sweep(tmp_path: Path) -> Location:
    (tmp_path / "demo").mkdir()
    return Location.of(tmp_path / "demo")


@pytest.fixture()
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A process of this host that runs for the test's length."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def _forge(sweep: Location, **fields: Any) -> Holder:
    """Writes a lease as another process would have; returns its holder."""
    holder = replace(Holder.this_process(None), **fields)
    (sweep / LEASE_FILE).write_bytes(holder.to_bytes())
    return holder


def _file(sweep: Location) -> dict[str, Any]:
    return json.loads((sweep / LEASE_FILE).read_bytes())  # type: ignore[no-any-return]


# -- local ------------------------------------------------------------------------------------------------------


def test_a_lease_is_taken_names_this_process_and_is_released(sweep: Location) -> None:
    rec = Recorder()
    held = acquire(sweep, **rec.kw())
    data = _file(sweep)
    assert (data["host"], data["pid"], data["start_time"]) == (socket.gethostname(), os.getpid(), process_start_time(os.getpid()))
    assert data["token"] == held.holder.token and len(data["token"]) == 32 and data["raygrid_version"]
    assert abs(data["acquired_at"] - time.time()) < 60
    assert current_writer(sweep)["pid"] == os.getpid() and "token" not in current_writer(sweep)  # type: ignore[index,operator]
    held.release()
    held.release()  # idempotent
    assert not (sweep / LEASE_FILE).exists() and current_writer(sweep) is None
    assert sorted(os.listdir(sweep.local)) == []  # no temporary file left
    acquire(sweep, **rec.kw()).release()  # free again
    assert rec.lines == [] and not rec.lost.is_set()


def test_a_second_writer_is_refused_with_one_line_naming_the_holder(sweep: Location) -> None:
    rec = Recorder()
    with acquire(sweep, **rec.kw()) as held:
        with pytest.raises(SweepLeaseError) as refused:
            acquire(sweep, **rec.kw())
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith(f"{sweep}: the sweep is being written by pid {os.getpid()} on host {socket.gethostname()} since ")
        assert f"({LEASE_FILE})" in message and message.endswith(f"raygrid resume {sweep} --force-unlock")
        assert _file(sweep)["token"] == held.holder.token  # untouched
    assert not (sweep / LEASE_FILE).exists()


def test_the_lease_of_a_process_that_has_ended_is_taken_over_with_one_line(sweep: Location) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    started = process_start_time(ended.pid)
    ended.kill()
    ended.wait()
    stale = _forge(sweep, pid=ended.pid, start_time=started, token="a" * 32)
    rec = Recorder()
    with acquire(sweep, **rec.kw()) as held:
        assert _file(sweep)["token"] == held.holder.token != stale.token
    assert len(rec.lines) == 1 and f"pid {ended.pid}" in rec.lines[0] and "has ended" in rec.lines[0]


def test_the_lease_of_a_running_process_or_another_host_is_never_taken_over(
    sweep: Location, sleeper: subprocess.Popen[bytes]
) -> None:
    alive = _forge(sweep, pid=sleeper.pid, start_time=process_start_time(sleeper.pid), token="b" * 32)
    with pytest.raises(SweepLeaseError, match=f"written by pid {sleeper.pid} on host "):
        acquire(sweep, **Recorder().kw())
    assert _file(sweep)["token"] == alive.token
    # another host: its pid means nothing here, even one that runs nothing on this host
    elsewhere = _forge(sweep, host="elsewhere-host", pid=2**22 + 17, token="c" * 32)
    with pytest.raises(SweepLeaseError, match="written by pid 4194321 on host elsewhere-host"):
        acquire(sweep, **Recorder().kw())
    assert _file(sweep)["token"] == elsewhere.token


def test_a_reused_pid_is_told_apart_by_its_start_time(sweep: Location, sleeper: subprocess.Popen[bytes]) -> None:
    if process_start_time(sleeper.pid) is None:
        pytest.skip("no /proc/<pid>/stat here")
    # the lease names the sleeper's pid but another start time: the holder was an earlier process with that pid
    _forge(sweep, pid=sleeper.pid, start_time=process_start_time(sleeper.pid) - 1000, token="d" * 32)  # type: ignore[operator]
    rec = Recorder()
    with acquire(sweep, **rec.kw()) as held:
        assert _file(sweep)["token"] == held.holder.token
    assert len(rec.lines) == 1 and "has ended" in rec.lines[0]
    # and a reboot since ends every process of the host
    _forge(sweep, pid=sleeper.pid, start_time=process_start_time(sleeper.pid), boot_id="an-earlier-boot", token="e" * 32)
    acquire(sweep, **rec.kw()).release()


def test_a_holder_that_exited_unreaped_a_zombie_is_gone(sweep: Location) -> None:
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    started = process_start_time(zombie.pid)
    deadline = time.time() + 30
    while (lease._stat(zombie.pid) or ["Z"])[0] != "Z":  # exited, not yet reaped (no wait() until the end)
        assert time.time() < deadline
        time.sleep(0.05)
    _forge(sweep, pid=zombie.pid, start_time=started, token="z" * 32)
    rec = Recorder()
    acquire(sweep, **rec.kw()).release()
    assert len(rec.lines) == 1 and "has ended" in rec.lines[0]
    zombie.wait()


def test_of_many_takers_of_a_stale_lease_exactly_one_wins(sweep: Location) -> None:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    _forge(sweep, pid=ended.pid, start_time=None, token="f" * 32)
    barrier = threading.Barrier(6)
    won: list[lease.Lease] = []
    refused: list[str] = []

    def take() -> None:
        barrier.wait()
        try:
            won.append(acquire(sweep, **Recorder().kw()))
        except SweepLeaseError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=take) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 5
    assert _file(sweep)["token"] == won[0].holder.token
    won[0].release()


def test_force_unlock_takes_a_live_lease_and_its_old_holder_learns_it_lost(
    sweep: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lease._LocalStore, "check_every_s", 0.1)
    old_rec, new_rec = Recorder(), Recorder()
    old = acquire(sweep, **old_rec.kw())
    new = acquire(sweep, force=True, **new_rec.kw())
    assert _file(sweep)["token"] == new.holder.token
    assert len(new_rec.lines) == 1 and "--force-unlock" in new_rec.lines[0] and f"pid {os.getpid()}" in new_rec.lines[0]
    assert old_rec.lost.wait(20) and old.lost.is_set() and lease.lost_here()
    assert "LOST THE WRITER LEASE" in old_rec.lines[-1]
    with pytest.raises(SweepLeaseError, match=r"stopped: this writer lost the sweep's lease \(writer\.lease: it was taken over by pid"):
        old.raise_if_lost()
    old.release()  # must not remove the new holder's lease
    assert _file(sweep)["token"] == new.holder.token and not new.lost.is_set()
    new.release()
    assert not (sweep / LEASE_FILE).exists() and not lease.lost_here()


def test_an_unreadable_lease_is_refused_unless_forced(sweep: Location) -> None:
    (sweep / LEASE_FILE).write_text("{not json")
    with pytest.raises(SweepLeaseError, match=r"writer\.lease is unreadable.*--force-unlock$"):
        acquire(sweep, **Recorder().kw())
    assert current_writer(sweep) == {"description": "unreadable writer.lease"}
    acquire(sweep, force=True, **Recorder().kw()).release()


# -- S3 ---------------------------------------------------------------------------------------------------------

_prefixes = iter(range(10**6))


@pytest.fixture()
def s3_sweep(s3_env: dict[str, str]) -> Location:
    return Location.of(f"s3://{S3_BUCKET}/lease{next(_prefixes)}/demo")


def _client() -> Any:
    """boto3 on the s3_env fixture's server (the environment the fixture set)."""
    from raygrid.storage import s3_client

    return s3_client()


def _object(where: Location) -> tuple[dict[str, Any], str] | None:
    from botocore.exceptions import ClientError

    try:
        reply = _client().get_object(Bucket=where.bucket, Key=(where / LEASE_FILE).key)
    except ClientError:
        return None
    return json.loads(reply["Body"].read()), reply["ETag"]


def test_s3_a_lease_is_created_conditionally_refused_to_a_second_writer_and_released(
    s3_env: dict[str, str], s3_sweep: Location
) -> None:
    rec = Recorder()
    held = acquire(s3_sweep, **rec.kw())
    data, _ = _object(s3_sweep)  # type: ignore[misc]
    assert data["token"] == held.holder.token and data["pid"] == os.getpid() and data["ttl_s"] == lease.S3_TTL_S
    with pytest.raises(SweepLeaseError) as refused:
        acquire(s3_sweep, **rec.kw())
    message = str(refused.value)
    assert message.startswith(f"{s3_sweep}: the sweep is being written by pid {os.getpid()} on host ")
    assert re.search(r"\(writer\.lease, renewed \d+ s ago, expires 60 s after its last renewal\); wait for it", message)
    assert message.endswith(f"raygrid resume {s3_sweep} --force-unlock")
    assert current_writer(s3_sweep)["pid"] == os.getpid()  # type: ignore[index]  # a reader, through pyarrow
    held.release()
    assert _object(s3_sweep) is None and rec.lines == []


def test_s3_the_lease_is_renewed_and_stays_held(s3_env: dict[str, str], s3_sweep: Location) -> None:
    rec = Recorder()
    with acquire(s3_sweep, ttl_s=6.0, **rec.kw()) as held:  # renewed every 2 s
        _, first = _object(s3_sweep)  # type: ignore[misc]
        time.sleep(8)  # past the TTL: only renewals keep it
        data, later = _object(s3_sweep)  # type: ignore[misc]
        assert later != first and data["token"] == held.holder.token and data["renewed_at"] > data["acquired_at"]
        with pytest.raises(SweepLeaseError, match="being written by"):
            acquire(s3_sweep, ttl_s=6.0, **Recorder().kw())
        assert not held.lost.is_set()
    assert rec.lines == []


def test_s3_an_expired_lease_is_taken_over_conditionally_on_its_etag(s3_env: dict[str, str], s3_sweep: Location) -> None:
    key = (s3_sweep / LEASE_FILE).key
    young = replace(Holder.this_process(30.0), host="lost-node", pid=4242, token="8" * 32)
    _client().put_object(Bucket=S3_BUCKET, Key=key, Body=young.to_bytes())
    with pytest.raises(SweepLeaseError, match="pid 4242 on host lost-node"):
        acquire(s3_sweep, **Recorder().kw())  # renewed within its TTL: not taken over
    gone = replace(young, ttl_s=1.0, token="9" * 32)
    _client().put_object(Bucket=S3_BUCKET, Key=key, Body=gone.to_bytes())
    time.sleep(2.5)  # the server's clock: Last-Modified vs Date, whole seconds

    # Two takers judge the same expired lease; the one that writes second is
    # refused by S3 (If-Match on the ETag both saw). Stepped one by one: moto,
    # unlike S3, does not serialise concurrent conditional writes.
    first, second = lease._S3Store(s3_sweep / LEASE_FILE, 60.0), lease._S3Store(s3_sweep / LEASE_FILE, 60.0)
    seen_first, seen_second = first.read(), second.read()
    assert seen_first and seen_second and first.stale(seen_first) and second.stale(seen_second)
    me, other = Holder.this_process(60.0), replace(Holder.this_process(60.0), token="0" * 32)
    assert first.replace(me, seen_first) is not None
    assert second.replace(other, seen_second) is None
    assert _object(s3_sweep)[0]["token"] == me.token  # type: ignore[index]

    # through acquire: the takeover is logged in one line
    _client().put_object(Bucket=S3_BUCKET, Key=key, Body=gone.to_bytes())
    time.sleep(2.5)
    rec = Recorder()
    with acquire(s3_sweep, **rec.kw()) as held:
        assert _object(s3_sweep)[0]["token"] == held.holder.token  # type: ignore[index]
    assert len(rec.lines) == 1 and "pid 4242 on host lost-node" in rec.lines[0] and "expired" in rec.lines[0]


def test_s3_force_unlock_takes_a_live_lease_and_the_old_holders_renewal_fails(
    s3_env: dict[str, str], s3_sweep: Location
) -> None:
    old_rec = Recorder()
    old = acquire(s3_sweep, **old_rec.kw())  # its thread renews in 20 s: the renewal below is the test's own
    new_rec = Recorder()
    new = acquire(s3_sweep, force=True, **new_rec.kw())
    assert len(new_rec.lines) == 1 and "--force-unlock" in new_rec.lines[0]
    assert old.store.renew(old.holder, old.version) is None  # conditional on its ETag: someone else wrote
    old.release()  # must not delete the new holder's lease (a conditional delete)
    assert _object(s3_sweep)[0]["token"] == new.holder.token  # type: ignore[index]
    assert old_rec.lines == [f"{s3_sweep / LEASE_FILE}: not removed: it is no longer this writer's"]
    new.release()
    assert _object(s3_sweep) is None


# -- run_sweep holds it ------------------------------------------------------------------------------------------


def _spec(storage: Path):  # type: ignore[no-untyped-def]
    from raygrid.spec import parse_spec

    return parse_spec(
        {
            "name": "s",
            "model": {"name_or_path": "xlm-roberta-base"},  # a hub id: nothing is loaded here
            "data": {"source": "bundled"},
            "intermediates": ["none"],
            "targets": [{"task": "xnli", "languages": ["de"]}],
            "storage": str(storage),
        }
    )


@pytest.fixture()
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_sweep without Ray: the cluster and the progress query stand in."""
    from raygrid.sweep import cluster, driver

    monkeypatch.setattr(cluster, "start", lambda address, spec: None)
    monkeypatch.setattr(cluster, "shutdown", lambda: None)
    monkeypatch.setattr(driver, "sweep_status", lambda sweep_dir: {"stand_in": True})


def test_run_sweep_holds_the_lease_while_it_writes_and_refuses_a_held_sweep(
    tmp_path: Path, no_ray: None, monkeypatch: pytest.MonkeyPatch, sleeper: subprocess.Popen[bytes]
) -> None:
    from raygrid.sweep import driver, segments

    sweep = tmp_path / "runs" / "s"
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(segments, "run_segments", lambda sweep_dir, **kw: seen.append(json.loads((sweep / LEASE_FILE).read_text())) or 0)
    outcome = driver.run_sweep(_spec(tmp_path / "runs"), address="stand-in")
    assert outcome.progress == {"stand_in": True} and len(seen) == 1 and seen[0]["pid"] == os.getpid()
    assert not (sweep / LEASE_FILE).exists() and (sweep / "sweep.json").is_file()

    # a live writer's lease: run and resume are refused before writing; --force-unlock goes on
    _forge(Location.of(sweep), pid=sleeper.pid, start_time=process_start_time(sleeper.pid), token="7" * 32)
    (sweep / "sweep.json").unlink()
    with pytest.raises(SweepLeaseError, match=f"pid {sleeper.pid}"):
        driver.run_sweep(_spec(tmp_path / "runs"), address="stand-in")
    assert not (sweep / "sweep.json").exists()
    driver.run_sweep(_spec(tmp_path / "runs"), address="stand-in", force_unlock=True)
    assert len(seen) == 2 and not (sweep / LEASE_FILE).exists()


def _lease_taken_during_a_segment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[subprocess.Popen[bytes]], Path]:
    """A segment process that never ends (sleeps 120 s), and another writer
    that forces the lease of ``<tmp_path>/runs/s`` as soon as it starts."""
    from raygrid.sweep import segments

    children: list[subprocess.Popen[bytes]] = []
    popen = subprocess.Popen

    def segment_process(command: list[str], **kw: Any) -> subprocess.Popen[bytes]:
        children.append(popen([sys.executable, "-c", "import time; time.sleep(120)"]))
        return children[-1]

    monkeypatch.setattr(segments.subprocess, "Popen", segment_process)
    sweep = tmp_path / "runs" / "s"

    def other_writer() -> None:
        while not children:
            time.sleep(0.05)
        _forge(Location.of(sweep), host="other-host", pid=999_999, token="8" * 32)

    threading.Thread(target=other_writer, daemon=True).start()
    return children, sweep


def test_a_sweep_whose_lease_is_taken_stops_its_segment_process_at_once(
    tmp_path: Path, no_ray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor waits on a segment process; another writer forces the
    lease; the supervisor kills the segment (no last save) and run_sweep
    ends with one line naming the new holder."""
    from raygrid.sweep import driver

    monkeypatch.setattr(lease._LocalStore, "check_every_s", 0.1)
    children, sweep = _lease_taken_during_a_segment(tmp_path, monkeypatch)
    began = time.monotonic()
    with pytest.raises(SweepLeaseError, match="stopped: this writer lost .* taken over by pid 999999 on host other-host"):
        driver.run_sweep(_spec(tmp_path / "runs"), address="stand-in")
    assert time.monotonic() - began < 30
    assert children[0].wait(5) == -signal.SIGKILL  # killed, not asked to save (SIGINT)
    assert _file(Location.of(sweep))["token"] == "8" * 32  # the other writer's lease is left alone


def test_a_lost_lease_stops_the_segment_even_where_sigint_only_sets_a_flag(
    tmp_path: Path, no_ray: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, in a process whose SIGINT handler does not raise (a
    notebook's, or the one Ray Tune's fit leaves behind): the supervisor's
    own lease check while it waits stops the segment all the same."""
    from raygrid.sweep import driver, segments

    swallowed: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: swallowed.append(signum))  # the autouse fixture restores it
    monkeypatch.setattr(lease._LocalStore, "check_every_s", 0.1)
    monkeypatch.setattr(segments, "LEASE_POLL_S", 0.1)
    children, sweep = _lease_taken_during_a_segment(tmp_path, monkeypatch)
    began = time.monotonic()
    with pytest.raises(SweepLeaseError, match="taken over by pid 999999 on host other-host"):
        driver.run_sweep(_spec(tmp_path / "runs"), address="stand-in")
    assert time.monotonic() - began < 30
    assert swallowed == [signal.SIGINT]  # the lease thread's SIGINT came, and was only noted
    assert children[0].wait(5) == -signal.SIGKILL


def test_a_lease_that_cannot_be_renewed_for_its_ttl_counts_as_lost() -> None:
    """S3 unreachable: renewals fail; after the TTL another writer may have
    taken the expired lease, so the holder stops."""

    class Unreachable:
        where = Location.of("s3://bucket/runs/demo") / LEASE_FILE
        check_every_s, ttl_s = 0.05, 0.5
        renewals = 0

        def renew(self, holder: Holder, version: str) -> str | None:
            self.renewals += 1
            raise ConnectionError("endpoint unreachable")

        def read(self) -> None:
            raise ConnectionError("endpoint unreachable")

    rec, store = Recorder(), Unreachable()
    held = lease.Lease(store, Holder.this_process(0.5), "etag", **rec.kw())  # type: ignore[arg-type]
    assert rec.lost.wait(20) and store.renewals >= 5  # retried within the TTL first
    assert held.lost_why.startswith("could not renew it for ") and "ConnectionError" in held.lost_why
    with pytest.raises(SweepLeaseError, match="s3://bucket/runs/demo: stopped: this writer lost"):
        held.raise_if_lost()
    held.release()  # nothing to delete: it is not ours any more
    assert rec.lines == [f"s3://bucket/runs/demo: LOST THE WRITER LEASE ({held.lost_why}); stopping this sweep now: another writer may own it"]
