"""The resume states of a unit on the *local* path (no Ray here).

A unit on the local path (:mod:`raygrid.sweep.ray_backend`) trains inside
its Tune trial's process through a ``TorchTrainer`` with
``ScalingConfig(num_workers=0)`` (Ray Train V2's local mode). In Ray 2.60
that mode keeps a reported checkpoint in memory only (``LocalTrainFnUtils``:
no storage, no controller, no retries), so raygrid keeps the states itself,
where the Train path keeps its run, ``<sweep>/train/<unit key>/``::

    local-state.json                 {"state": "local-000000012-1f2e3d4c"}: the newest complete state
    local-000000012-1f2e3d4c/        a phase state (raygrid.train.loop's save_state)

A state is uploaded whole first, then the pointer is replaced atomically
(``Location.write_bytes``), then the state it replaced is removed: a kill at
any point leaves the pointer naming a complete state, or no pointer. The
folder goes when the unit ends (``remove_train_run``), as a Train run's does.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from raygrid.layout import TRAIN_DIR
from raygrid.storage import Location

POINTER = "local-state.json"
_PREFIX = "local-"


class LocalStates:
    """The saved phase states of one unit; the newest is resumed from."""

    def __init__(self, sweep_dir: Location | Path | str, key: str) -> None:
        self.root = Location.of(sweep_dir) / TRAIN_DIR / key

    def current(self) -> str | None:
        """The name of the newest complete state (``None``: none yet)."""
        try:
            data = json.loads((self.root / POINTER).read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        name = data.get("state") if isinstance(data, dict) else None
        if not isinstance(name, str) or not name.startswith(_PREFIX) or "/" in name or "\\" in name or ".." in name:
            return None  # not a name this module writes: never followed out of the unit's folder
        return name

    def save(self, state_dir: Path, step: int) -> str:
        """Stores ``state_dir`` (the state after ``step``) as the newest state; returns its name."""
        name = f"{_PREFIX}{step:09d}-{uuid.uuid4().hex[:8]}"  # unique: a state is never rewritten in place
        previous = self.current()
        (self.root / name).upload(state_dir)
        (self.root / POINTER).write_text(json.dumps({"state": name}) + "\n")
        if previous is not None and previous != name:
            (self.root / previous).rmtree()
        return name

    @contextlib.contextmanager
    def latest(self) -> Iterator[Path | None]:
        """The newest state as a local folder for the block (``None``:
        nothing to resume from); an S3 one is downloaded to a temporary folder."""
        from raygrid.train.loop import is_saved_state

        name = self.current()
        if name is None:
            yield None
            return
        where = self.root / name
        if not where.remote:
            yield where.local if is_saved_state(where.local) else None
            return
        with tempfile.TemporaryDirectory(prefix="raygrid-resume-") as tmp:
            where.download(Path(tmp))
            yield Path(tmp) if is_saved_state(Path(tmp)) else None


__all__ = ["POINTER", "LocalStates"]
