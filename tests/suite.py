"""`make test`'s runner: the whole suite in two phases, on a 2-core machine.

1. The world's tests (``tests/world``: the world build pretrains on one
   torch thread, then its effect cells train on one thread: about 11 minutes
   of CPU on one core) run beside the unit tests (``-m "not e2e"``: single
   process, mostly one core). Each has a core of its own.
2. The end-to-end tests (``-m e2e``: real Ray, fake clusters, killed
   sweeps) then run alone: they size their Ray clusters to the machine's two
   CPUs, and load from beside them would stretch their kills and timeouts.

Run one after the other, phase 1 took as long as its two parts added
(CI of stop 25: world 663 s + unit tests ~290 s); beside each other it
takes about as long as the world's part. Every test still runs, once.

Each phase's pytest output is printed whole (the world's after it ends);
the exit status is non-zero if any part failed or collected nothing.
Extra arguments go to every pytest run (``python tests/suite.py -x``).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORLD = "tests/world"


def _pytest(args: list[str], basetemp: Path, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "--durations=15", f"--basetemp={basetemp}", *args, *extra]


def main(extra: list[str]) -> int:
    root = Path(tempfile.mkdtemp(prefix="raygrid-tests-"))
    failed: list[str] = []
    started = time.monotonic()

    world_log = root / "world.log"
    with open(world_log, "wb") as log:
        world = subprocess.Popen(_pytest([WORLD], root / "world", extra), cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        print(f"== phase 1: {WORLD} (in the background, log {world_log}) beside the unit tests", flush=True)
        t = time.monotonic()
        unit = subprocess.call(_pytest(["-m", "not e2e", f"--ignore={WORLD}"], root / "unit", extra), cwd=REPO)
        print(f"== unit tests: exit {unit}, {time.monotonic() - t:.0f} s; waiting for {WORLD}", flush=True)
        world_rc = world.wait()
    print(f"== {WORLD}: exit {world_rc}, {time.monotonic() - started:.0f} s since the start; its output:", flush=True)
    sys.stdout.write(world_log.read_text(errors="replace"))
    sys.stdout.flush()

    print("== phase 2: the end-to-end tests, alone", flush=True)
    t = time.monotonic()
    e2e = subprocess.call(_pytest(["-m", "e2e", f"--ignore={WORLD}"], root / "e2e", extra), cwd=REPO)
    print(f"== e2e tests: exit {e2e}, {time.monotonic() - t:.0f} s", flush=True)

    for name, rc in (("unit tests", unit), (WORLD, world_rc), ("e2e tests", e2e)):
        if rc != 0:  # 5: collected nothing, a filter that lost its tests
            failed.append(f"{name} (pytest exit {rc})")
    total = time.monotonic() - started
    print(f"== suite: {total:.0f} s; " + ("FAILED: " + ", ".join(failed) if failed else "all three parts passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
