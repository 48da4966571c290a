"""What one trip of a `def` function to a worker thread and back costs, with nothing else.

    python -m bench.hop [--way mizan] [--seconds 1]

Every `def` call pays this hop, in every peer: the bare app through `run_in_executor`, a
hand-written Channels consumer twice (`database_sync_to_async` for the work, and Channels'
per-message `close_old_connections`), mizan through `mizan_channels.threads`. Measuring it
alone, in a process of its own, shows how much of a `def` call's cost is the hop and how
much is the machine: a trip wakes a sleeping thread twice, and where waking costs tens of
microseconds (a VM's idle vCPU) the hop, not any framework's Python, sets the floor of the
`def` rows. `turn` (one event-loop turn, no thread) is the yardstick. The result is one
JSON line on stdout; bench/cases.py keeps its numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

WAYS = ("turn", "executor", "sync_to_async", "channels", "mizan")


def work(n: int) -> int:
    return n + 1


def _hop(way: str) -> Callable[[int], Awaitable[Any]]:
    if way == "turn":
        return lambda n: asyncio.sleep(0)
    if way == "executor":
        loop = asyncio.get_running_loop()
        return lambda n: loop.run_in_executor(None, work, n)
    if way == "sync_to_async":
        from asgiref.sync import sync_to_async

        return sync_to_async(work, thread_sensitive=False)
    if way == "channels":
        from channels.db import database_sync_to_async

        return database_sync_to_async(work)  # type: ignore[no-any-return]
    if way == "mizan":
        from mizan_channels.threads import threaded

        return threaded(work)
    raise ValueError(f"unknown way {way!r}; one of {', '.join(WAYS)}")


async def _measure(way: str, seconds: float) -> dict[str, Any]:
    import psutil

    hop = _hop(way)
    for n in range(500):  # threads started, code paths warm
        await hop(n)
    proc = psutil.Process()
    before = proc.cpu_times()
    t0 = time.perf_counter()
    calls = 0
    while time.perf_counter() - t0 < seconds:  # a window, not a count: CPU time ticks 10 ms
        for n in range(100):
            await hop(n)
        calls += 100
    wall = time.perf_counter() - t0
    after = proc.cpu_times()
    cpu = (after.user + after.system) - (before.user + before.system)
    return {
        "calls": calls,
        "cpu_us_per_op": cpu / calls * 1e6,
        "wall_us_per_op": wall / calls * 1e6,
    }


def run(way: str, seconds: float = 1.0) -> dict[str, Any]:
    """Per-hop process CPU and wall time of sequential hops the way `way` makes them, over
    a window of `seconds`."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.project.settings")
    import django

    django.setup()
    return asyncio.run(_measure(way, seconds))


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.hop", description=__doc__)
    p.add_argument("--way", choices=WAYS, default="mizan")
    p.add_argument("--seconds", type=float, default=1.0)
    args = p.parse_args()
    sys.stdout.write(json.dumps(run(args.way, args.seconds)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
