"""One writer per sweep: the lease on a sweep folder (``<sweep>/writer.lease``).

``raygrid run`` and ``raygrid resume`` take the lease before they write
anything to the sweep folder and hold it to the end of the run; the segment
processes they start (:mod:`raygrid.sweep.segments`) write as part of the
same writer and never take it. Readers (``status``, ``best``, ``analyze``)
never take or touch it.

What is guaranteed:

- At most one process holds the lease at a time; a second ``run``/``resume``
  is refused with one line naming the holder (pid, host, since when).
- Local or shared folder: the lease file is created whole and atomically (a
  complete temporary file hard-linked to its final name: ``os.link`` fails if
  the name exists). It says who holds it: host, pid, the process's start
  time (``/proc/<pid>/stat``, so a reused pid is told apart), the boot it
  runs in, raygrid's version, when, and a random token.
- ``s3://``: the lease object is created with S3's conditional write
  (``If-None-Match: *``) and renewed every ``ttl_s / 3`` seconds by a
  background thread with ``If-Match: <its ETag>``; it expires ``ttl_s``
  seconds (60) after its last renewal, measured on the S3 server's clock
  (the object's ``Last-Modified`` against the response's ``Date``), so
  writers' clocks need not agree.
- The holder checks its lease in the background (every 10 s locally, at each
  renewal on S3). When it finds the lease taken by someone else (a forced
  unlock, or its S3 lease expired while it could not renew) it says so on
  stderr and stops the sweep as Ctrl-C would, killing its segment process
  outright: it must not write on. ``run_sweep`` then ends with a one-line error.

How a lease is taken over without ``--force-unlock``:

- local: only when its holder is provably gone: same host, and the pid is not
  running (or is a zombie), or runs with another start time, or the host has
  rebooted since. A holder on another host, or one that still runs, is never
  taken over (hosts are told apart by name: hosts that share the folder must
  have distinct host names).
- S3: only when it has expired. The takeover is conditional on the ETag
  that was judged expired, so of two takers one wins.

A takeover is logged in one line. Locally it moves the stale file aside under
a private name and checks that the moved file is the one it judged stale
(else it puts it back), so two takers cannot both win either.

The risk of ``--force-unlock``: it breaks the lease whoever holds it. If that
writer is in fact still running, two writers append to the Optuna journal
(on S3 each uploads its own copy whole: the last upload wins and the other's
trials are lost) and share the Tune experiment folder, which corrupts the
sweep. The old holder stops at its next check (10-20 s), not at once. Use it
only when the holder is gone for good (its machine is lost, its process was
killed on a host you cannot reach).

Example:
    >>> lease = acquire(Location.of("/tmp/runs/demo"))  # doctest: +SKIP
    >>> try:
    ...     ...  # write the sweep
    ... finally:
    ...     lease.release()
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import secrets
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from raygrid import __version__
from raygrid.errors import RaygridError
from raygrid.layout import LEASE_FILE
from raygrid.storage import Location, s3_client

#: Seconds an S3 lease stays valid after its last renewal; renewed every third of it.
S3_TTL_S = 60.0
#: Seconds between a local holder's checks that its lease file is still its own.
LOCAL_CHECK_S = 10.0
_ATTEMPTS = 5  # create / read / take over rounds before giving up on a lease that keeps changing hands

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(f"[raygrid] {message}", file=sys.stderr, flush=True)


class SweepLeaseError(RaygridError):
    """The sweep folder's lease is held by another writer, or was lost to one."""


# -- who holds it ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """The contents of a lease: who writes the sweep."""

    host: str
    pid: int
    start_time: int | None  # the process's start, clock ticks after boot (/proc/<pid>/stat field 22); None off Linux
    boot_id: str | None  # /proc/sys/kernel/random/boot_id: a reboot ends every process
    raygrid_version: str
    acquired_at: float  # epoch seconds (the holder's clock)
    token: str  # random: tells this lease from any other, even from the same pid
    ttl_s: float | None = None  # S3 only: the lease expires this long after its last renewal
    renewed_at: float | None = None  # S3 only, the holder's clock (for people; expiry uses the server's clock)
    # the GCS address of the Ray cluster it joined with --address (None: a local Ray of its own), where
    # `raygrid status` asks the autoscaler what it is doing for the sweep (raygrid.sweep.capacity)
    ray_address: str | None = None

    @classmethod
    def this_process(cls, ttl_s: float | None, ray_address: str | None = None) -> Holder:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, process_start_time(pid), _boot_id(), __version__, time.time(),
                   secrets.token_hex(16), ttl_s, ray_address=ray_address)  # fmt: skip

    def to_bytes(self) -> bytes:
        return (json.dumps(asdict(self), indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Holder | None:
        """The holder a lease names; ``None`` for a file that is not a lease."""
        try:
            raw = json.loads(data)
            return cls(
                host=str(raw["host"]), pid=int(raw["pid"]),
                start_time=None if raw.get("start_time") is None else int(raw["start_time"]),
                boot_id=raw.get("boot_id"), raygrid_version=str(raw.get("raygrid_version", "?")),
                acquired_at=float(raw["acquired_at"]), token=str(raw["token"]),
                ttl_s=None if raw.get("ttl_s") is None else float(raw["ttl_s"]),
                renewed_at=None if raw.get("renewed_at") is None else float(raw["renewed_at"]),
                ray_address=None if raw.get("ray_address") is None else str(raw["ray_address"]),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError):
            return None

    def describe(self) -> str:
        """``pid 1234 on host h since 2026-12-06 02:40:11 UTC``."""
        since = datetime.datetime.fromtimestamp(self.acquired_at, datetime.timezone.utc)
        return f"pid {self.pid} on host {self.host} since {since:%Y-%m-%d %H:%M:%S} UTC"

    def summary(self) -> dict[str, Any]:
        """What ``raygrid status`` shows of the writer (no token)."""
        out = {k: v for k, v in asdict(self).items() if k not in {"token", "boot_id"} and v is not None}
        return {**out, "description": self.describe()}


def _stat(pid: int) -> list[str] | None:
    """``/proc/<pid>/stat`` from its third field on (``None``: no such process, or not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return stat.rsplit(")", 1)[1].split()


def process_start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot (Linux); ``None`` if
    it does not run or this is not Linux."""
    fields = _stat(pid)
    return int(fields[19]) if fields else None  # starttime: field 22


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def provably_gone(holder: Holder) -> bool:
    """Whether the holder's process has ended for sure: it ran on this host
    and that host has rebooted since, or its pid does not run, or runs a
    process that started at another time (the pid was reused)."""
    if holder.host != socket.gethostname():
        return False  # another host: nothing here can prove it
    if holder.boot_id and _boot_id() and holder.boot_id != _boot_id():
        return True
    if not _running(holder.pid):
        return True
    fields = _stat(holder.pid)
    if fields and fields[0] in {"Z", "X"}:  # a zombie: it has exited, its parent has not reaped it yet
        return True
    if holder.start_time is None:
        return False  # no start time recorded: a running pid may be the holder
    started = process_start_time(holder.pid)
    return started is not None and started != holder.start_time


# -- where it is kept ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A lease as read: its holder (``None``: unreadable), its version (a
    token locally, the ETag on S3), and its age on S3 (seconds since its last
    renewal, on the server's clock)."""

    holder: Holder | None
    version: str
    age_s: float | None = None


class _Store(Protocol):
    where: Location
    check_every_s: float

    def create(self, holder: Holder) -> str | None:
        """Writes the lease if there is none; its version, or ``None`` if one exists."""

    def read(self) -> Seen | None:
        """The lease (``None``: there is none)."""

    def replace(self, holder: Holder, seen: Seen) -> str | None:
        """Writes the lease over ``seen`` if it is still there unchanged; its new version, or ``None``."""

    def stale(self, seen: Seen) -> str | None:
        """Why ``seen`` may be taken over without force (``None``: it may not)."""

    def renew(self, holder: Holder, version: str) -> str | None:
        """Confirms (S3: extends) the lease; its new version, ``None`` if someone
        else has it now. Other errors (the network) are raised."""

    def delete(self, version: str) -> bool:
        """Removes the lease if it is still ``version``; whether it did."""


#: A takeover guard older than this was left by a taker killed mid-takeover (a takeover takes milliseconds).
TAKEOVER_GUARD_STALE_S = 30.0


class _LocalStore:
    """The lease file in a local or shared folder."""

    check_every_s = LOCAL_CHECK_S

    def __init__(self, where: Location) -> None:
        self.where = where
        self.path = where.local

    def _temp(self, data: bytes) -> Path:
        tmp = self.path.with_name(f".{LEASE_FILE}.{secrets.token_hex(8)}")
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return tmp

    def create(self, holder: Holder) -> str | None:
        tmp = self._temp(holder.to_bytes())
        try:
            os.link(tmp, self.path)  # atomic, and fails if the name exists: readers never see half a lease
        except FileExistsError:
            return None
        finally:
            tmp.unlink(missing_ok=True)
        return holder.token

    def read(self) -> Seen | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return Seen(Holder.from_bytes(data), _local_version(data))

    def _take_aside(self, seen: Seen) -> bool:
        """Moves the lease file out of the way if it is still ``seen``."""
        aside = self.path.with_name(f".{LEASE_FILE}.old.{secrets.token_hex(8)}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        try:
            if _local_version(aside.read_bytes()) == seen.version:
                return True
            try:  # another taker's fresh lease: put it back
                os.link(aside, self.path)
            except FileExistsError:
                pass
            return False
        finally:
            aside.unlink(missing_ok=True)

    def replace(self, holder: Holder, seen: Seen) -> str | None:
        # One taker at a time moves the stale file aside and creates its own:
        # without this guard a second taker could move the first one's fresh
        # lease aside while a third created one in the gap (two winners).
        guard = self.path.with_name(f".{LEASE_FILE}.takeover")
        try:
            fd = os.open(guard, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                if time.time() - guard.stat().st_mtime > TAKEOVER_GUARD_STALE_S:  # a taker killed mid-takeover
                    guard.unlink(missing_ok=True)
            except FileNotFoundError:
                pass
            return None
        try:
            current = self.read()
            if current is None or current.version != seen.version:
                return None
            return self.create(holder) if self._take_aside(seen) else None
        finally:
            os.close(fd)
            guard.unlink(missing_ok=True)

    def stale(self, seen: Seen) -> str | None:
        if seen.holder is not None and provably_gone(seen.holder):
            return "its process has ended (this host runs no such pid with that start time)"
        return None

    def renew(self, holder: Holder, version: str) -> str | None:
        for _ in range(2):  # a taker that moved our file aside by mistake puts it back at once
            seen = self.read()
            if seen is not None:
                return version if seen.version == version else None
            time.sleep(0.5)
        return None

    def delete(self, version: str) -> bool:
        seen = self.read()
        return seen is not None and seen.version == version and self._take_aside(seen)


def _local_version(data: bytes) -> str:
    """A lease file's version: its token (a hash of the bytes for an unreadable file)."""
    holder = Holder.from_bytes(data)
    return holder.token if holder else "unreadable:" + hashlib.sha256(data).hexdigest()[:16]


class _S3Store:
    """The lease object on S3, written with conditional requests (boto3:
    pyarrow's S3 filesystem cannot make them)."""

    def __init__(self, where: Location, ttl_s: float) -> None:
        self.where = where
        self.ttl_s = ttl_s
        self.check_every_s = ttl_s / 3
        self.bucket = where.bucket
        self.key = where.key
        self.client = s3_client()

    @staticmethod
    def _code(exc: Exception) -> str:
        return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

    def _put(self, holder: Holder, **condition: str) -> str | None:
        from botocore.exceptions import ClientError

        body = replace(holder, renewed_at=time.time()).to_bytes()  # a new body, so a new ETag, at each write
        try:
            reply = self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body,
                                           ContentType="application/json", **condition)  # fmt: skip
        except ClientError as exc:
            # 412: the condition failed; 404: no object to match; 409: a concurrent conditional write
            if self._code(exc) in {"PreconditionFailed", "NoSuchKey", "ConditionalRequestConflict"}:
                return self._ours_anyway(holder)
            raise
        return str(reply["ETag"])

    def _ours_anyway(self, holder: Holder) -> str | None:
        """The ETag if the lease is ``holder``'s after all (the SDK retried a
        write that had gone through), else ``None``."""
        seen = self.read()
        return seen.version if seen and seen.holder and seen.holder.token == holder.token else None

    def create(self, holder: Holder) -> str | None:
        return self._put(holder, IfNoneMatch="*")

    def read(self) -> Seen | None:
        from botocore.exceptions import ClientError

        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if self._code(exc) in {"NoSuchKey", "404"}:
                return None
            raise
        data = reply["Body"].read()
        now = _server_time(reply)
        return Seen(Holder.from_bytes(data), str(reply["ETag"]), max(0.0, now - reply["LastModified"].timestamp()))

    def replace(self, holder: Holder, seen: Seen) -> str | None:
        return self._put(holder, IfMatch=seen.version)

    def stale(self, seen: Seen) -> str | None:
        ttl_s = seen.holder.ttl_s if seen.holder and seen.holder.ttl_s else self.ttl_s
        if seen.age_s is not None and seen.age_s > ttl_s:
            return f"it expired (not renewed for {seen.age_s:.0f} s, over its {ttl_s:.0f} s)"
        return None

    def renew(self, holder: Holder, version: str) -> str | None:
        return self._put(holder, IfMatch=version)

    def delete(self, version: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=version)
        except ClientError as exc:
            if self._code(exc) in {"PreconditionFailed", "NoSuchKey"}:
                return False
            raise
        return True


def _server_time(reply: dict[str, Any]) -> float:
    """The S3 server's clock at its reply (its ``Date`` header); this host's
    clock if it sent none."""
    from email.utils import parsedate_to_datetime

    date = reply.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(date).timestamp() if date else time.time()
    except (TypeError, ValueError):
        return time.time()


def _store(sweep_dir: Location, ttl_s: float) -> _Store:
    where = sweep_dir / LEASE_FILE
    return _S3Store(where, ttl_s) if where.remote else _LocalStore(where)


# -- holding it ------------------------------------------------------------------------------------------------


def _stop_main_thread() -> None:
    """Stops the sweep as Ctrl-C does: SIGINT to the main thread, which
    interrupts a blocking wait for the segment process (``_thread.interrupt_main``
    would only take effect once that wait returns)."""
    signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)


class Lease:
    """A held lease. A background thread keeps it (S3: renews it) until
    :meth:`release`; if it is lost to another writer, :attr:`lost` is set,
    a line goes to the log and ``on_lost`` runs (by default: SIGINT to the
    main thread)."""

    def __init__(self, store: _Store, holder: Holder, version: str, *, log: Log, on_lost: Callable[[], None]) -> None:
        self.store = store
        self.holder = holder
        self.version = version
        self.lost = threading.Event()
        self.taken_by: Holder | None = None
        self.lost_why = ""
        self._log = log
        self._on_lost = on_lost
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="raygrid-writer-lease", daemon=True)
        self._thread.start()
        _held.add(self)

    @property
    def where(self) -> Location:
        return self.store.where

    def _keep(self) -> None:
        last_ok = time.monotonic()
        while not self._released.wait(self.store.check_every_s):
            try:
                version = self.store.renew(self.holder, self.version)
            except Exception as exc:  # the network: try again, unless the lease may have expired meanwhile
                if time.monotonic() - last_ok < getattr(self.store, "ttl_s", float("inf")):
                    continue
                self._lose(f"could not renew it for {time.monotonic() - last_ok:.0f} s ({type(exc).__name__})")
                return
            if version is None:
                self._lose("it was taken over")
                return
            self.version, last_ok = version, time.monotonic()

    def _lose(self, why: str) -> None:
        if self._released.is_set():
            return
        try:
            seen = self.store.read()
            self.taken_by = seen.holder if seen else None
        except Exception:  # noqa: BLE001 - the message below is what matters
            self.taken_by = None
        self.lost_why = why + (f" by {self.taken_by.describe()}" if self.taken_by else "")
        self._log(f"{self.where.parent}: LOST THE WRITER LEASE ({self.lost_why}); stopping this sweep now: "
                  "another writer may own it")  # fmt: skip
        self.lost.set()
        self._on_lost()

    def raise_if_lost(self) -> None:
        """A one-line :class:`SweepLeaseError` if the lease was lost."""
        if self.lost.is_set():
            sweep = self.where.parent
            raise SweepLeaseError(
                f"{sweep}: stopped: this writer lost the sweep's lease ({LEASE_FILE}: {self.lost_why}); "
                f"finished trials and results are kept (`raygrid status {sweep}` shows the writer now)"
            )

    def release(self) -> None:
        """Stops keeping the lease and removes it (if it is still ours). Idempotent."""
        if self._released.is_set():
            return
        self._released.set()
        _held.discard(self)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        if self.lost.is_set():
            return
        try:
            if not self.store.delete(self.version):
                self._log(f"{self.where}: not removed: it is no longer this writer's")
        except Exception as exc:  # noqa: BLE001 - a lease left behind expires (S3) or is seen stale (local)
            self._log(f"{self.where}: could not remove it ({type(exc).__name__}: {exc})")

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_held: set[Lease] = set()


def lost_here() -> bool:
    """Whether a lease held by this process has been lost (its writing must stop at once)."""
    return any(lease.lost.is_set() for lease in list(_held))


def acquire(
    sweep_dir: Location,
    *,
    force: bool = False,
    ttl_s: float = S3_TTL_S,
    log: Log = _stderr,
    on_lost: Callable[[], None] = _stop_main_thread,
    ray_address: str | None = None,
) -> Lease:
    """Takes the sweep folder's lease (the folder must exist if it is local).

    Raises :class:`SweepLeaseError` (one line naming the holder) if another
    writer holds it. ``force`` breaks any lease (``--force-unlock``: see
    the module's docstring for the risk). ``ray_address``: the cluster the
    writer joined, written in the lease for ``raygrid status``.
    """
    store = _store(sweep_dir, ttl_s)
    me = Holder.this_process(ttl_s if sweep_dir.remote else None, ray_address)
    seen: Seen | None = None
    for _ in range(_ATTEMPTS):
        version = store.create(me)
        if version is not None:
            return Lease(store, me, version, log=log, on_lost=on_lost)
        seen = store.read()
        if seen is None:
            continue  # released meanwhile
        why = "--force-unlock" if force else store.stale(seen)
        if why is None:
            raise SweepLeaseError(held_message(sweep_dir, seen))
        version = store.replace(me, seen)
        if version is not None:
            who = seen.holder.describe() if seen.holder else "an unreadable lease"
            log(f"{store.where}: took over the lease of {who}: {why}")
            return Lease(store, me, version, log=log, on_lost=on_lost)
    raise SweepLeaseError(
        f"{sweep_dir}: the sweep's lease ({LEASE_FILE}) changed hands {_ATTEMPTS} times while this writer tried to "
        f"take it; another writer is starting: wait for it"
    )


def held_message(sweep_dir: Location, seen: Seen) -> str:
    """The one line that refuses a second writer."""
    force = f"raygrid resume {sweep_dir} --force-unlock"
    if seen.holder is None:
        return (
            f"{sweep_dir}: the sweep's {LEASE_FILE} is unreadable, so its writer is unknown; if no process writes "
            f"this sweep: {force}"
        )
    renewed = ""
    if seen.age_s is not None:  # S3
        ttl_s = seen.holder.ttl_s or S3_TTL_S
        renewed = f", renewed {seen.age_s:.0f} s ago, expires {ttl_s:.0f} s after its last renewal"
    return (
        f"{sweep_dir}: the sweep is being written by {seen.holder.describe()} ({LEASE_FILE}{renewed}); "
        f"wait for it, or if that process is gone for good: {force}"
    )


def current_writer(sweep_dir: Location) -> dict[str, Any] | None:
    """Who holds the sweep's lease, for ``raygrid status`` (``None``: nobody).
    Reads the lease and nothing else; needs no boto3."""
    return writer_and_cluster(sweep_dir, cluster=False)[0]


def writer_and_cluster(sweep_dir: Location, *, cluster: bool) -> tuple[dict[str, Any] | None, str | None]:
    """:func:`current_writer` and, with ``cluster``, the Ray cluster (GCS
    address) the writer runs on while a writer that joined one with
    ``--address`` holds the lease and is not provably gone (``None``
    otherwise), from one read of the lease and nothing else."""
    try:
        data = (sweep_dir / LEASE_FILE).read_bytes()
    except FileNotFoundError:
        return None, None
    holder = Holder.from_bytes(data)
    if holder is None:
        return {"description": f"unreadable {LEASE_FILE}"}, None
    address = holder.ray_address if cluster and holder.ray_address is not None and not provably_gone(holder) else None
    return holder.summary(), address


__all__ = ["LEASE_FILE", "Holder", "Lease", "SweepLeaseError", "acquire", "current_writer", "lost_here",
           "process_start_time", "provably_gone", "writer_and_cluster"]  # fmt: skip
