"""Probe 6: the driver's resident memory per actor created and killed, Ray core alone.

No Tune, no raygrid: the driver creates an actor, calls it twice (as Tune
calls a trial's ``train``), kills it, and every 20 actors returns freed
C-heap pages (glibc ``malloc_trim``, as raygrid's sweep driver does) and
samples its RSS. Prints the least-squares growth per actor over the last
two thirds. What it separates: the part of a sweep driver's per-trial
growth that is Ray core's bookkeeping of the trial's actor (docs/benchmarks.md,
"Driver memory").

With ``--reinit`` it then also measures what ``ray.shutdown()`` gives back
(the core worker's per-actor state goes with it) and the growth of a
second ``ray.init()`` in the same process.

Run: .venv/bin/python benchmarks/ray_probe/probe_actor_churn.py [ACTORS] [--reinit]
"""

from __future__ import annotations

import ctypes
import json
import sys
import time

import ray


def _rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@ray.remote(num_cpus=0)
class _Trial:
    def train(self, step: int) -> dict[str, float]:
        return {"objective": float(step), "step": 1.0}


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--reinit"]
    actors = int(args[0]) if args else 300
    ray.init(address="local", num_cpus=2, include_dashboard=True, log_to_driver=False)
    malloc_trim = ctypes.CDLL("libc.so.6").malloc_trim
    samples: list[tuple[int, float]] = []
    started = time.perf_counter()
    for done in range(20, actors + 1, 20):
        _churn(20)
        malloc_trim(0)
        samples.append((done, _rss_mib()))
    _churn(actors % 20)
    tail = [s for s in samples if s[0] >= actors // 3]
    mx = sum(x for x, _ in tail) / len(tail)
    my = sum(y for _, y in tail) / len(tail)
    slope = sum((x - mx) * (y - my) for x, y in tail) / sum((x - mx) ** 2 for x, _ in tail)
    out = {"actors": actors, "wall_s": round(time.perf_counter() - started, 1), "rss_first_mib": round(samples[0][1], 1),
           "rss_last_mib": round(samples[-1][1], 1), "kib_per_actor": round(slope * 1024, 2)}  # fmt: skip
    if "--reinit" in sys.argv:
        ray.shutdown()
        malloc_trim(0)
        out["rss_after_shutdown_mib"] = round(_rss_mib(), 1)
        ray.init(address="local", num_cpus=2, include_dashboard=True, log_to_driver=False)
        _churn(actors // 10)
        malloc_trim(0)
        first = _rss_mib()
        _churn(actors)
        malloc_trim(0)
        out["reinit_kib_per_actor"] = round((_rss_mib() - first) * 1024 / actors, 2)
    print(json.dumps(out))


def _churn(actors: int) -> None:
    """Creates, calls twice (as Tune calls a trial's ``train``) and kills ``actors`` actors, one at a time."""
    for i in range(actors):
        actor = _Trial.remote()  # type: ignore[attr-defined]
        ray.get([actor.train.remote(i), actor.train.remote(i)])
        ray.kill(actor)
        del actor


if __name__ == "__main__":
    main()
