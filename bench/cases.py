"""The cases of a run: which peer, on which server and layer, under what load, bounded how.

A case is data (`Case`); `run_case` turns it into a load-generator spec against a server of
the fleet (or a fresh server, for memory cases, whose heap must start clean) and returns
the measured metrics. `plan(quick)` lists every case of a run; the full plan stays under
about ten minutes for three rounds on two cores, `--quick` under two.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any

from .harness import ROOT, Fleet, run_load
from .hop import WAYS as HOP_WAYS

#: WebSocket peers: path and framing. `raw` is the ceiling; `hand` the hand-written consumer.
WS_PEERS: dict[str, tuple[str, str]] = {
    "raw": ("/ws/raw/", "mizan"),
    "hand": ("/ws/hand/", "mizan"),
    "dcrf": ("/ws/dcrf/", "dcrf"),
    "rpc": ("/ws/rpc/", "jsonrpc"),
    "mizan": ("/ws/mizan/", "mizan"),
}
HTTP_PEERS: dict[str, str] = {
    "mizan": "/api/mizan/call/echo",
    "plain": "/plain/echo",
    "plain_async": "/plain/aecho",
    "ninja": "/ninja/echo",
}


@dataclass(frozen=True)
class Case:
    scenario: str  # rpc, pipe, fanout, http, idle, ir, hop
    peer: str
    server: str = "daphne"
    layer: str = "memory"
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def id(self) -> str:
        extra = "/".join(f"{k}{v}" for k, v in sorted(self.params.items()) if k in KEYED)
        parts = [self.scenario, self.server, self.layer, extra, self.peer]
        return "/".join(p for p in parts if p)


#: Parameters that distinguish cases (the others are bounds).
KEYED = ("kind", "c", "w", "n", "deflate")


@dataclass(frozen=True)
class Bounds:
    warmup_s: float
    duration_s: float
    max_ops: int
    idle_sockets: int
    burst_per_sub: dict[int, int]
    invs: int


FULL = Bounds(0.25, 0.8, 200_000, 300, {100: 120, 1000: 5}, 10)
QUICK = Bounds(0.15, 0.4, 50_000, 200, {100: 50, 1000: 10}, 5)


def plan(quick: bool) -> list[Case]:
    cases: list[Case] = []
    # RPC: every peer on daphne; raw, hand-written and mizan on uvicorn (asyncio and uvloop).
    for server in ("daphne", "uvloop") if quick else ("daphne", "uvicorn", "uvloop"):
        on_daphne = server == "daphne"
        for kind in ("async", "sync"):
            for conns in (1, 32):
                if server == "uvicorn" and (kind == "sync" or conns == 1):
                    continue
                if quick and (conns == 1 and (kind == "sync" or not on_daphne)):
                    continue
                if quick and kind == "sync" and not on_daphne:
                    continue
                peers = list(WS_PEERS) if on_daphne else ["raw", "hand", "mizan"]
                for peer in peers:
                    cases.append(Case("rpc", peer, server, params={"kind": kind, "c": conns}))
        if server != "uvicorn" and not (quick and not on_daphne):
            for peer in ("raw", "hand", "mizan"):
                cases.append(Case("pipe", peer, server, params={"w": 32}))
    # Fan-out on uvicorn+uvloop: it accepts 1,000 sockets about 3x faster than daphne, which
    # keeps the run short; the ratios are between peers on the same server.
    fan = "uvloop"
    for n in (100,) if quick else (100, 1000):
        cases.append(Case("fanout", "raw", fan, "memory", {"n": n}))
        for layer in ("memory", "redis", "pubsub"):
            cases.append(Case("fanout", "hand", fan, layer, {"n": n}))
        for layer in ("memory", "redis"):  # mizan's broker is the same Redis one under both
            cases.append(Case("fanout", "mizan", fan, layer, {"n": n}))
    for server in ("uvloop",) if quick else ("daphne", "uvloop"):
        for peer in ("mizan", "plain_async", "ninja") if quick else HTTP_PEERS:
            cases.append(Case("http", peer, server))
    # Memory on uvicorn, which negotiates permessage-deflate (daphne's autobahn never does;
    # daphne measured 1.6 KiB/socket over Channels on the same run shape).
    for deflate in (0, 1):
        for peer in ("hand", "mizan") if quick or deflate else ("raw", "hand", "mizan"):
            cases.append(Case("idle", peer, "uvloop", params={"deflate": deflate}))
    cases.append(Case("ir", "mizan", "", ""))
    # The thread hop alone (in a process of its own, no server): the floor of `def` calls.
    for way in HOP_WAYS:
        cases.append(Case("hop", way, "", ""))
    return cases


def run_case(case: Case, fleet: Fleet, bounds: Bounds) -> dict[str, Any]:
    """Measure one case; {"failed": why} when the peer misbehaved or a bound was hit."""
    p = case.params
    common = {"warmup_s": bounds.warmup_s, "duration_s": bounds.duration_s}
    if case.scenario in ("rpc", "pipe"):
        server = fleet.get(case.server, case.layer)
        path, proto = WS_PEERS[case.peer]
        fn = "echo_sync" if p.get("kind") == "sync" else "echo"
        if p.get("c", 1) == 1 and p.get("w", 1) == 1:
            # One socket makes the fewest calls per second: a window twice as long keeps
            # the CPU clock's 10 ms tick under 1% of the CPU it measures.
            common["duration_s"] = 2 * bounds.duration_s
        return run_load(
            {
                **common,
                "kind": "rpc",
                "url": server.url(path),
                "proto": proto,
                "fn": fn,
                "conns": p.get("c", 1),
                "window": p.get("w", 1),
                "max_ops": bounds.max_ops,
                "pid": server.pid,
                "timeout_s": 60,
            }
        )
    if case.scenario == "fanout":
        server = fleet.get(case.server, case.layer)
        n = p["n"]
        return run_load(
            {
                "kind": "fanout",
                "url": server.url(WS_PEERS[case.peer][0]),
                "subs": n,
                "burst": bounds.burst_per_sub[n],
                "invs": bounds.invs,
                "quiet_s": 2.0,
                "pid": server.pid,
                "timeout_s": 120,
            }
        )
    if case.scenario == "http":
        server = fleet.get(case.server, case.layer)
        return run_load(
            {
                **common,
                "kind": "http",
                "url": server.url(HTTP_PEERS[case.peer], "http"),
                "conns": 4,
                "max_ops": bounds.max_ops,
                "pid": server.pid,
                "timeout_s": 60,
            }
        )
    if case.scenario == "idle":
        server = fleet.fresh(case.server, case.layer)
        try:
            return run_load(
                {
                    "kind": "idle",
                    "url": server.url(WS_PEERS[case.peer][0]),
                    "n": bounds.idle_sockets,
                    "deflate": bool(p["deflate"]),
                    "pid": server.pid,
                    "timeout_s": 120,
                }
            )
        finally:
            server.stop()
    if case.scenario == "ir":
        return run_ir(small=bounds.idle_sockets < FULL.idle_sockets)
    if case.scenario == "hop":
        seconds = 2 * bounds.duration_s
        code = f"import json, bench.hop as m\nprint(json.dumps(m.run({case.peer!r}, {seconds})))\n"
        return _run_python(code, 60)
    raise ValueError(f"unknown scenario {case.scenario!r}")


def run_ir(small: bool = False) -> dict[str, Any]:
    """`bench/ir_export.py`'s `run()` (the IR engineer's), in a process of its own, once per
    round (the rounds are the repeats); it returns a dict of numbers, kept as they come.
    `small` (quick mode) exports 200 functions over 200 models instead of 1,000 over 1,000."""
    size = 200 if small else 1000
    code = (
        "import json, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'bench.project.settings')\n"
        "import bench.ir_export as m\n"
        f"print(json.dumps(m.run({size}, {size}, 1), default=str))\n"
    )
    return _run_python(code, 300)


def _run_python(code: str, timeout: float) -> dict[str, Any]:
    """Run `code` in a Python process of its own and keep the numbers of the JSON object
    its last line of output holds."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"took over {timeout:.0f} s: {code.splitlines()[-1]}"}
    if done.returncode != 0:
        return {"failed": done.stderr.decode(errors="replace")[-1500:]}
    lines = done.stdout.decode().strip().splitlines()
    try:
        out = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {"failed": f"printed no JSON: {lines[-1:]!r}"}
    if not isinstance(out, dict):
        return {"value": out}
    return {k: v for k, v in out.items() if isinstance(v, int | float | str | bool)}
