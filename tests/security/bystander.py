"""A bystander client in its own process: pings a socket every 50 ms until its stdin
closes, then prints its round-trip times as JSON. Floods are measured against it, so the
flooding client (in the test process) can't slow it by holding the GIL."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time

from websockets.asyncio.client import connect


async def main(url: str) -> None:
    done = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    rtts: list[float] = []
    async with connect(url, origin="http://127.0.0.1", ping_interval=None) as ws:  # type: ignore[arg-type]
        await ws.recv()  # hello
        print("ready", flush=True)
        i = 0
        while not done.is_set():
            i += 1
            t0 = time.monotonic()
            await ws.send(json.dumps({"t": "ping", "id": i}))
            while json.loads(await asyncio.wait_for(ws.recv(), 30)).get("id") != i:
                pass
            rtts.append(time.monotonic() - t0)
            await asyncio.to_thread(done.wait, 0.05)  # pacing, not synchronization
    print(json.dumps(rtts), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
