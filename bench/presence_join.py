"""What a presence join costs: `run()` returns the figures as a flat dict of numbers.

Measured in one process, through the real socket consumer (in-process ASGI communicator),
on the in-process broker and on a real Redis (a private redis-server when one can be
started, else 127.0.0.1:6379 db 14):

- `<broker>_sub_us` / `<broker>_presence_sub_us`: mean time of one `sub` round trip, one
  socket after another, without and with presence (the roster grows to `n` members, so the
  second includes reading and sending an n-member roster); `<broker>_join_extra_us` is the
  difference: what presence adds to a join, most of it sending the join's diff to the
  sockets already there (one frame each).
- `<broker>_store_join_us`: the store step alone (write, position, snapshot of a roster
  growing to `n`), joins one after another, no subscribers.
- `<broker>_flood_us_per_join`: `n` sockets subscribing at once, wall time per join.
- `<broker>_flood_writes_per_join`: store writes (one Redis round trip each) per join in
  the flood; below 1 means joins were coalesced.
- `<broker>_diff_frames_per_join`: presence frames a watcher received per join in the flood.

    python -c "import bench.presence_join as m; print(m.run())"
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import statistics
import time
from collections.abc import Iterator
from typing import Any

N = 200


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


@contextlib.contextmanager
def _redis() -> Iterator[str]:
    from tests.servers import RedisServer, free_port, port_open

    if shutil.which("redis-server"):
        server = RedisServer(free_port())
        server.start()
        try:
            yield server.url + "/0"
        finally:
            server.stop()
    elif port_open("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/14"
    else:
        raise RuntimeError("no redis-server binary and nothing on 127.0.0.1:6379")


async def _sub(comm: Any, channel: str, room: str) -> float:
    t0 = time.perf_counter()
    reply = await comm.request({"t": "sub", "ch": channel, "params": {"room": room}})
    elapsed = time.perf_counter() - t0
    assert reply["t"] == "ok", reply
    return elapsed


async def _measure(prefix: str, n: int) -> dict[str, float]:
    from mizan_channels.hub import get_hub
    from mizan_channels.presence.tracker import tracker_for
    from mizan_channels.testing import MizanCommunicator

    out: dict[str, float] = {}
    tag = f"{prefix}-{time.time_ns()}"
    for label, channel in (("sub_us", "chat"), ("presence_sub_us", "presence_room")):
        socks = [MizanCommunicator() for _ in range(n)]
        await asyncio.gather(*(s.connect() for s in socks))
        times = [await _sub(s, channel, f"seq-{tag}") for s in socks]
        out[f"{prefix}_{label}"] = statistics.mean(times) * 1e6
        await asyncio.gather(*(s.disconnect() for s in socks))
    out[f"{prefix}_join_extra_us"] = out[f"{prefix}_presence_sub_us"] - out[f"{prefix}_sub_us"]

    tracker = tracker_for(get_hub())
    stream = f"ch:bench:{tag}"
    refs = [tracker.new_ref() for _ in range(n)]
    t0 = time.perf_counter()
    for i, ref in enumerate(refs):
        await tracker.join(stream, ref, f"u{i}", b'{"id":"1","username":"someone"}')
    out[f"{prefix}_store_join_us"] = (time.perf_counter() - t0) / n * 1e6
    for ref in refs:
        tracker.leave(stream, ref, "x")
    await tracker.snapshot(stream)

    watcher = MizanCommunicator()
    await watcher.connect()
    await _sub(watcher, "presence_room", f"flood-{tag}")
    socks = [MizanCommunicator() for _ in range(n)]
    await asyncio.gather(*(s.connect() for s in socks))
    writes = tracker.writes
    t0 = time.perf_counter()
    await asyncio.gather(*(_sub(s, "presence_room", f"flood-{tag}") for s in socks))
    out[f"{prefix}_flood_us_per_join"] = (time.perf_counter() - t0) / n * 1e6
    out[f"{prefix}_flood_writes_per_join"] = (tracker.writes - writes) / n
    seen = 1  # the watcher itself
    frames = 0
    while seen < n + 1:
        frame = await watcher.next_frame(lambda f: f["t"] == "presence")
        frames += 1
        seen += sum(len(refs) for refs in frame.get("joins", {}).values())
    out[f"{prefix}_diff_frames_per_join"] = frames / n
    await asyncio.gather(*(s.disconnect() for s in [*socks, watcher]))
    await tracker.close()
    return out


def run(n: int = N) -> dict[str, Any]:
    """Measure and return the figures (see the module docstring)."""
    _setup()
    from django.test import override_settings

    from mizan_channels import hub

    results: dict[str, Any] = {"n": n}
    results.update(asyncio.run(_measure("local", n)))
    with _redis() as url, override_settings(MIZAN_REDIS_URL=url):
        hub.reset()
        results.update(asyncio.run(_measure("redis", n)))
    hub.reset()
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in results.items()}


if __name__ == "__main__":
    import json
    import logging
    import sys

    logging.basicConfig(level=logging.WARNING)
    sys.stdout.write(json.dumps(run(), indent=1) + "\n")
