"""The load generator: a process of its own (never the server's), driving one case and
printing its measurements as JSON.

Usage: `python -m bench.load < spec.json` (and `--bumper URL`, the mutating caller of a
fan-out case, started by the fan-out case itself). The spec names the case kind (`rpc`, `fanout`,
`http`, `idle`), the target, its bounds (seconds and operation counts) and the server's pid,
whose CPU time (user + sys) this process reads at the edges of the measured window, so the
window excludes connecting and warming up. Imports no Django: what it measures is the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any
from urllib.parse import urlsplit

import orjson
import psutil
from websockets.asyncio.client import ClientConnection, connect

logger = logging.getLogger("bench.load")

ORIGIN = "http://127.0.0.1"


class CaseFailed(RuntimeError):
    """The peer answered wrongly or not at all: its numbers would be meaningless."""


def cpu_seconds(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return float(sorted_values[i])


# RPC framing per peer: (encode request, read reply id, check reply) ------------------------


def _mizan(fn: str, i: int) -> bytes:
    return orjson.dumps({"t": "call", "id": i, "fn": fn, "args": {"text": "hello", "n": i}})


def _dcrf(fn: str, i: int) -> bytes:
    return orjson.dumps({"action": fn, "request_id": i, "text": "hello", "n": i})


def _jsonrpc(fn: str, i: int) -> bytes:
    return orjson.dumps(
        {"jsonrpc": "2.0", "method": fn, "params": {"text": "hello", "n": i}, "id": i}
    )


def _data_mizan(frame: dict[str, Any]) -> Any:
    return frame.get("data") if frame.get("t") == "ok" else None


def _data_dcrf(frame: dict[str, Any]) -> Any:
    return frame.get("data") if frame.get("response_status") == 200 else None


def _data_jsonrpc(frame: dict[str, Any]) -> Any:
    return frame.get("result")


PROTOCOLS: dict[str, tuple[Callable[[str, int], bytes], str, Callable[[dict[str, Any]], Any]]] = {
    "mizan": (_mizan, "id", _data_mizan),
    "dcrf": (_dcrf, "request_id", _data_dcrf),
    "jsonrpc": (_jsonrpc, "id", _data_jsonrpc),
}


async def open_ws(url: str, deflate: bool = False) -> ClientConnection:
    return await connect(
        url,
        origin=ORIGIN,  # type: ignore[arg-type]
        compression="deflate" if deflate else None,
        max_size=None,
        open_timeout=30,
        ping_interval=None,
    )


class Meter:
    """Counts operations and latencies; `mark()` opens the measured window."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.ops = 0
        self.errors = 0
        self.first_error = ""
        self.measuring = False
        self.lat: list[int] = []
        self.t0 = self.cpu0 = 0.0
        self.ops0 = 0

    def mark(self) -> None:
        self.measuring = True
        self.ops0 = self.ops
        self.t0 = time.perf_counter()
        self.cpu0 = cpu_seconds(self.proc)

    def result(self) -> dict[str, Any]:
        elapsed = time.perf_counter() - self.t0
        cpu = cpu_seconds(self.proc) - self.cpu0
        ops = self.ops - self.ops0
        lat = sorted(self.lat)
        return {
            "ops": ops,
            "elapsed_s": elapsed,
            "throughput": ops / elapsed if elapsed > 0 else 0.0,
            "cpu_us_per_op": cpu / ops * 1e6 if ops else float("nan"),
            "server_cpu_pct": cpu / elapsed * 100 if elapsed > 0 else 0.0,
            "p50_us": percentile(lat, 0.50) / 1e3,
            "p99_us": percentile(lat, 0.99) / 1e3,
            "errors": self.errors,
            "first_error": self.first_error,
        }

    def fail(self, why: str) -> None:
        self.errors += 1
        if not self.first_error:
            self.first_error = why[:300]


async def rpc(spec: dict[str, Any]) -> dict[str, Any]:
    """Closed loop: `conns` sockets, each keeping `window` calls in flight."""
    encode, id_key, data_of = PROTOCOLS[spec["proto"]]
    fn = spec["fn"]
    meter = Meter(spec["pid"])
    max_ops = spec["max_ops"]
    sockets = await asyncio.gather(*(open_ws(spec["url"]) for _ in range(spec["conns"])))
    deadline = time.perf_counter() + spec["warmup_s"] + spec["duration_s"]
    ids = iter(range(1, 1 << 62))

    async def conn_loop(ws: ClientConnection) -> None:
        pending: dict[int, tuple[asyncio.Future[Any], int]] = {}
        loop = asyncio.get_running_loop()

        async def reader() -> None:
            async for raw in ws:
                frame = orjson.loads(raw)
                fid = frame.get(id_key)
                entry = pending.pop(fid, None) if type(fid) is int else None
                if entry is not None:
                    entry[0].set_result(frame)

        async def worker() -> None:
            while time.perf_counter() < deadline and meter.ops < max_ops:
                i = next(ids)
                fut = loop.create_future()
                start = time.perf_counter_ns()
                pending[i] = (fut, start)
                await ws.send(encode(fn, i).decode())
                frame = await asyncio.wait_for(fut, 30)
                took = time.perf_counter_ns() - start
                data = data_of(frame)
                if not isinstance(data, dict) or data.get("n") != i + 1:
                    meter.fail(f"bad reply to {i}: {frame!r}")
                    continue
                meter.ops += 1
                if meter.measuring:
                    meter.lat.append(took)

        read_task = asyncio.create_task(reader())
        try:
            await asyncio.gather(*(worker() for _ in range(spec["window"])))
        finally:
            read_task.cancel()
            with contextlib.suppress(BaseException):
                await read_task

    out = await after_warmup(meter, spec["warmup_s"], (conn_loop(ws) for ws in sockets))
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return out


async def after_warmup(
    meter: Meter, warmup_s: float, loops: Iterable[Coroutine[Any, Any, None]]
) -> dict[str, Any]:
    """Run the load `loops` to their end, measuring from `warmup_s` into them."""

    async def marker() -> None:
        await asyncio.sleep(warmup_s)  # the warm-up is a duration, not a wait on an event
        meter.mark()

    mark_task = asyncio.create_task(marker())
    await asyncio.gather(*loops)
    if not mark_task.done():  # count-bounded before the warm-up ended: measure nothing
        mark_task.cancel()
        raise CaseFailed("max_ops reached during warm-up; raise max_ops or shorten warmup_s")
    return meter.result()


class Subscriber:
    """One subscriber socket of a fan-out case: counts `msg` and `inv` frames."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.msgs = 0
        self.invs = 0
        self.last_msg = 0.0
        self.last_inv = 0.0
        self.progress: asyncio.Event | None = None

    async def read(self) -> None:
        async for raw in self.ws:
            t = orjson.loads(raw).get("t")
            if t == "msg":
                self.msgs += 1
                self.last_msg = time.perf_counter()
            elif t == "inv":
                self.invs += 1
                self.last_inv = time.perf_counter()
            if self.progress is not None:
                self.progress.set()


async def request(ws: ClientConnection, frame: dict[str, Any]) -> Any:
    """Send one mizan-shaped request and return its `ok` data (skipping pushes meanwhile)."""
    await ws.send(orjson.dumps(frame).decode())
    while True:
        reply = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
        if reply.get("id") == frame["id"]:
            if reply.get("t") != "ok":
                raise CaseFailed(f"{frame['t']} failed: {reply!r}")
            return reply.get("data")


async def call(ws: ClientConnection, frame_id: int, fn: str, args: dict[str, Any]) -> Any:
    return await request(ws, {"t": "call", "id": frame_id, "fn": fn, "args": args})


async def wait_until(
    cond: Callable[[], bool], event: asyncio.Event, quiet_s: float, limit_s: float = 40.0
) -> bool:
    """Wait for `cond`; give up after `quiet_s` without any progress (lost messages) or
    `limit_s` in all (a peer too slow to finish within the case's bounds)."""
    end = time.perf_counter() + limit_s
    while not cond():
        event.clear()
        left = end - time.perf_counter()
        if left <= 0:
            return cond()
        try:
            await asyncio.wait_for(event.wait(), min(quiet_s, left))
        except TimeoutError:
            return cond()
    return True


async def fanout(spec: dict[str, Any]) -> dict[str, Any]:
    """N subscribers of one room; a publisher blasts `burst` messages, then makes `invs`
    mutations one at a time (each invalidating every socket)."""
    n, burst, invs = spec["subs"], spec["burst"], spec["invs"]
    proc = psutil.Process(spec["pid"])
    room = secrets.token_hex(4)
    progress = asyncio.Event()
    subs: list[Subscriber] = []
    for start in range(0, n, 100):  # connect in batches: a thundering herd measures the OS
        batch = await asyncio.gather(*(open_ws(spec["url"]) for _ in range(min(100, n - start))))
        for j, ws in enumerate(batch):
            await call_sub(ws, start + j + 1, room)
            sub = Subscriber(ws)
            sub.progress = progress
            subs.append(sub)
    publisher = await open_ws(spec["url"])
    bumper = await Bumper.start(spec["url"])
    readers = [asyncio.create_task(s.read()) for s in subs]
    try:
        expected = n * burst
        cpu0, t0 = cpu_seconds(proc), time.perf_counter()
        send_task = asyncio.create_task(call(publisher, 1, "blast", {"room": room, "count": burst}))
        complete = await wait_until(
            lambda: sum(s.msgs for s in subs) >= expected, progress, spec["quiet_s"], 20.0
        )
        await send_task
        delivered = sum(s.msgs for s in subs)
        t_last = max((s.last_msg for s in subs), default=t0)
        cpu = cpu_seconds(proc) - cpu0
        span = max(t_last - t0, 1e-9)
        out: dict[str, Any] = {
            "delivered": delivered,
            "lost": expected - delivered,
            "lost_pct": (expected - delivered) / expected * 100,
            "complete": complete,
            "msgs_per_s": delivered / span,
            "last_delivery_ms": span * 1e3,
            "cpu_us_per_delivery": cpu / delivered * 1e6 if delivered else float("nan"),
        }
        ok_ms: list[float] = []
        last_ms: list[float] = []
        inv_lost = 0
        cpu0 = cpu_seconds(proc)
        for k in range(1, invs + 1):
            t0 = time.perf_counter()
            ok_ms.append(await bumper.bump(k))
            done = await wait_until(lambda k=k: all(s.invs >= k for s in subs), progress, 2.0)
            if not done:  # some socket never heard of it: stop here, the case stays bounded
                inv_lost += sum(1 for s in subs if s.invs < k)
                invs = k
                break
            last_ms.append((max(s.last_inv for s in subs) - t0) * 1e3)
        inv_cpu = cpu_seconds(proc) - cpu0
        ok_ms.sort()
        last_ms.sort()
        out.update(
            {
                "inv_ok_ms": ok_ms[len(ok_ms) // 2] if ok_ms else float("nan"),
                "inv_last_ms": last_ms[len(last_ms) // 2] if last_ms else float("nan"),
                "inv_lost": inv_lost,
                "inv_cpu_ms_per_event": inv_cpu / invs * 1e3 if invs else float("nan"),
            }
        )
        return out
    finally:
        for r in readers:
            r.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await bumper.stop()
        await asyncio.gather(
            publisher.close(), *(s.ws.close() for s in subs), return_exceptions=True
        )


class Bumper:
    """The mutating caller of a fan-out case, in a process of its own: the `ok` latency it
    measures must not wait behind this process reading the N subscribers' frames."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, url: str) -> Bumper:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.load",
            "--bumper",
            url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        self = cls(proc)
        await self._line()  # "ready": connected
        return self

    async def _line(self) -> str:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line:
            raise CaseFailed("the bumper process exited")
        return line.decode().strip()

    async def bump(self, k: int) -> float:
        """One `bump` call; its `ok` latency in ms as the bumper measured it."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{k}\n".encode())
        await self.proc.stdin.drain()
        return float(await self._line())

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def bumper_main(url: str) -> None:
    """`python -m bench.load --bumper URL`: one socket; for each number read on stdin, call
    `bump` and print the `ok` latency in ms."""
    with contextlib.suppress(OSError):  # needs privilege; without it the figure is noisier
        os.nice(-10)
    ws = await open_ws(url)
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _say("ready")
    while line := await reader.readline():
        k = int(line)
        t0 = time.perf_counter()
        await call(ws, 100 + k, "bump", {})
        _say(str((time.perf_counter() - t0) * 1e3))
    await ws.close()


async def call_sub(ws: ClientConnection, frame_id: int, room: str) -> None:
    await request(ws, {"t": "sub", "id": frame_id, "ch": "feed", "params": {"room": room}})


async def http(spec: dict[str, Any]) -> dict[str, Any]:
    """Closed loop over `conns` keep-alive HTTP/1.1 connections, POSTing JSON."""
    parts = urlsplit(spec["url"])
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    token = secrets.token_hex(16)  # a CSRF cookie + header pair, as a browser page sends
    meter = Meter(spec["pid"])
    streams = [await asyncio.open_connection(host, port) for _ in range(spec["conns"])]
    deadline = time.perf_counter() + spec["warmup_s"] + spec["duration_s"]

    async def conn_loop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while time.perf_counter() < deadline and meter.ops < spec["max_ops"]:
                i = meter.ops
                body = orjson.dumps({"text": "hello", "n": i})
                head = (
                    f"POST {parts.path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                    "Content-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n"
                    f"Cookie: csrftoken={token}\r\nX-CSRFToken: {token}\r\n\r\n"
                )
                start = time.perf_counter_ns()
                writer.write(head.encode() + body)
                raw_head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                lines = raw_head.decode("latin-1").split("\r\n")
                status = int(lines[0].split()[1])
                headers = {
                    k.strip().lower(): v.strip()
                    for k, _, v in (line.partition(":") for line in lines[1:] if line)
                }
                if "content-length" not in headers:
                    raise CaseFailed(f"reply without Content-Length: {raw_head!r}")
                payload = await reader.readexactly(int(headers["content-length"]))
                took = time.perf_counter_ns() - start
                data = orjson.loads(payload) if status == 200 else None
                n = data.get("data", data).get("n") if isinstance(data, dict) else None
                if n != i + 1:
                    meter.fail(f"HTTP {status}: {payload[:200]!r}")
                    meter.ops += 1  # keep ids moving; the case is failed anyway
                    continue
                meter.ops += 1
                if meter.measuring:
                    meter.lat.append(took)
        finally:
            writer.close()

    return await after_warmup(meter, spec["warmup_s"], (conn_loop(r, w) for r, w in streams))


async def idle(spec: dict[str, Any]) -> dict[str, Any]:
    """Server memory per idle socket: RSS growth over `n` sockets that each made one call
    (so every per-socket structure exists), after a few warm-up sockets loaded lazy code."""
    proc = psutil.Process(spec["pid"])
    url, deflate = spec["url"], spec["deflate"]

    async def settle(ws: ClientConnection, i: int) -> None:
        await call(ws, i, "echo", {"text": "hello", "n": i})

    warm = [await open_ws(url, deflate) for _ in range(20)]
    for i, ws in enumerate(warm):
        await settle(ws, i + 1)
    rss0 = proc.memory_info().rss
    sockets: list[ClientConnection] = []
    for start in range(0, spec["n"], 100):
        batch = await asyncio.gather(
            *(open_ws(url, deflate) for _ in range(min(100, spec["n"] - start)))
        )
        await asyncio.gather(*(settle(ws, start + j + 1) for j, ws in enumerate(batch)))
        sockets.extend(batch)
    rss1 = proc.memory_info().rss
    extensions = sockets[0].response.headers.get("Sec-WebSocket-Extensions", "") if sockets else ""
    await asyncio.gather(*(ws.close() for ws in [*warm, *sockets]), return_exceptions=True)
    return {
        "kib_per_socket": (rss1 - rss0) / spec["n"] / 1024,
        "rss_mib": rss1 / 2**20,
        "deflate_negotiated": "permessage-deflate" in extensions,
    }


KINDS = {"rpc": rpc, "fanout": fanout, "http": http, "idle": idle}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    if sys.argv[1:2] == ["--bumper"]:
        runner(bumper_main(sys.argv[2]))
        return
    spec = json.load(sys.stdin)
    try:
        result = runner(asyncio.wait_for(KINDS[spec["kind"]](spec), spec.get("timeout_s", 120)))
    except Exception as exc:  # reported as the case's failure, with its type
        result = {"failed": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
