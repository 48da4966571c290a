"""What one call asks of a daphne server, counted instead of timed.

    python -m bench.instructions [--fn echo|echo_sync] [--calls 1000] [--peers raw hand mizan]

Runs daphne under valgrind's callgrind (with its cache simulator) and, over one socket per
peer, makes `--calls` calls after a warm-up, reading the counters before and after. Reports
per call: instructions executed in user space (Ir), simulated first-level instruction and
data read misses (I1mr, D1mr), and each peer's ratio to the bare app and to the hand-written
Channels consumer.

Why: at one socket on a shared VM, server CPU per call moves by +-15% between windows
(`python -m bench`), more than the difference under study. Instruction counts don't move
(runs agree within 2%), so they show what a change to mizan's own per-call
work did. What they leave out is the kernel and the cost of waking threads, which is where
a hand-written consumer's thread hop spends most of its time: so the ratio to `hand` here
is a bound, not the CPU figure, and the CPU targets stay judged by `python -m bench`.
Slow (valgrind runs daphne about 50x slower): a few minutes for three peers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .cases import WS_PEERS
from .harness import ROOT, Server

logger = logging.getLogger("bench")
RESULTS = ROOT / "bench" / "results"
#: The peers that take mizan's own frames (`{"t": "call", ...}`) for the same work.
PEERS = tuple(peer for peer, (_, proto) in WS_PEERS.items() if proto == "mizan")
WARMUP = 200
EVENTS = ("Ir", "I1mr", "D1mr")


@dataclass
class Callgrind(Server):
    """A daphne started under callgrind, counters dumped into `out_dir` on request."""

    out_dir: str = ""

    def command(self) -> list[str]:
        return [
            "valgrind",
            "--tool=callgrind",
            "--cache-sim=yes",
            "--dump-instr=no",
            f"--callgrind-out-file={self.out_dir}/callgrind.out",
            *super().command(),
        ]

    def control(self, flag: str) -> None:
        subprocess.run(["callgrind_control", flag, str(self.pid)], check=True, capture_output=True)


def totals(dump: str) -> dict[str, int]:
    """The event totals of one callgrind dump, by event name."""
    names: list[str] = []
    values: list[int] = []
    for line in dump.splitlines():
        if line.startswith("events:"):
            names = line.split()[1:]
        elif line.startswith(("summary:", "totals:")):
            values = [int(v) for v in line.split()[1:]]
    if not names or not values or len(values) > len(names):
        raise ValueError("not a callgrind dump with event totals")
    values += [0] * (len(names) - len(values))  # the format leaves trailing zeros out
    return dict(zip(names, values, strict=True))


def measure(server: Callgrind, peer: str, fn: str, calls: int) -> dict[str, float]:
    """Per-call events of `calls` sequential calls to `peer` on one socket."""
    from websockets.sync.client import connect

    url = server.url(WS_PEERS[peer][0])
    with connect(url, origin=f"http://127.0.0.1:{server.port}", open_timeout=300) as ws:
        if peer == "mizan":
            ws.recv(timeout=300)  # hello

        def call(i: int) -> None:
            ws.send(json.dumps({"t": "call", "id": i, "fn": fn, "args": {"text": "hi", "n": i}}))
            reply = json.loads(ws.recv(timeout=300))
            if reply.get("t") != "ok" or reply["data"]["n"] != i + 1:
                raise RuntimeError(f"{peer} answered {reply!r} to call {i}")

        for i in range(WARMUP):
            call(i)
        before = set(Path(server.out_dir).iterdir())
        server.control("--zero")
        for i in range(WARMUP, WARMUP + calls):
            call(i)
        server.control("--dump")
        counts = _read_dump(Path(server.out_dir), before)
    return {e: counts[e] / calls for e in EVENTS}


def _read_dump(out_dir: Path, before: set[Path], wait_s: float = 60.0) -> dict[str, int]:
    """The totals of the dump written since `before`, once callgrind has finished writing it
    (`callgrind_control --dump` returns before the file is complete)."""
    end = time.monotonic() + wait_s
    while True:
        for path in set(out_dir.iterdir()) - before:
            try:
                return totals(path.read_text())
            except ValueError:
                pass  # still being written
        if time.monotonic() > end:
            raise RuntimeError("callgrind wrote no complete dump")
        time.sleep(0.2)  # a file another process writes: no event to await


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    p = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__)
    p.add_argument("--fn", default="echo", choices=("echo", "echo_sync"))
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS))
    args = p.parse_args()
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        logger.error("needs valgrind (apt-get install valgrind)")
        return 2
    os.environ["PYTHONHASHSEED"] = "0"  # same dict layouts, same counts, run to run
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as out_dir:
        server = Callgrind("daphne", out_dir=out_dir, start_timeout=600)
        try:
            server.start()
            per: dict[str, dict[str, float]] = {}
            for peer in args.peers:
                t0 = time.monotonic()
                per[peer] = measure(server, peer, args.fn, args.calls)
                logger.info("%s: %.0f instructions a call (%.0fs)", peer, per[peer]["Ir"],
                            time.monotonic() - t0)  # fmt: skip
        finally:
            server.stop()
    lines = [
        f"daphne, one socket, `{args.fn}`, {args.calls} calls per peer; per call:",
        "",
        "| peer | instructions | I1 misses | D1 read misses | vs raw | vs hand |",
        "|---|---|---|---|---|---|",
    ]
    for peer, ev in per.items():
        vs = [f"{ev['Ir'] / per[b]['Ir']:.3f}" if b in per else "-" for b in ("raw", "hand")]
        counts = " | ".join(f"{ev[e]:,.0f}" for e in EVENTS)
        lines.append(f"| {peer} | {counts} | {vs[0]} | {vs[1]} |")
    sys.stdout.write("\n".join(lines) + "\n")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / time.strftime(f"instructions-{args.fn}-%Y%m%d-%H%M%S.json")
    out.write_text(json.dumps({"fn": args.fn, "calls": args.calls, "per_call": per}, indent=1))
    logger.info("wrote %s", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
