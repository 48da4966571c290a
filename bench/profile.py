"""`python -m bench.profile`: where a mizan-channels server spends its CPU under RPC load.

Starts a server, samples it with py-spy (non-blocking, so sampling doesn't stall the loop)
while the load generator drives `--conns` sockets calling `--fn`, then folds the stacks into
self and inclusive time per function. Line numbers are folded away so a function counts
once however many of its lines were sampled. Output: a text report on stdout and in
bench/results/, plus py-spy's raw collapsed stacks beside it (flamegraph input).
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

from .harness import ROOT, Fleet, run_load

logger = logging.getLogger("bench")
RESULTS = ROOT / "bench" / "results"
_LINE = re.compile(r":\d+\)$")
_SITE = re.compile(r"\(.*?(site-packages|lib/python3\.\d+)/")


def fold(raw: Path) -> tuple[int, Counter[str], Counter[str]]:
    """(samples, self counts, inclusive counts) per function of py-spy's raw output."""
    total = 0
    own: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_SITE.sub("(", _LINE.sub(")", f)) for f in stack.split(";")]
        own[frames[-1]] += n
        for f in set(frames):
            incl[f] += n
    return total, own, incl


def render(total: int, own: Counter[str], incl: Counter[str], top: int) -> str:
    out = [f"samples: {total}", "", "self time (top functions):"]
    out += [f"  {v / total * 100:5.1f}%  {k}" for k, v in own.most_common(top)]
    out += ["", "inclusive time, mizan_channels and the framework around it:"]
    picked = [
        (k, v)
        for k, v in incl.most_common()
        if any(s in k for s in ("mizan_channels/", "channels/", "asgiref/", "pydantic", "orjson"))
    ]
    out += [f"  {v / total * 100:5.1f}%  {k}" for k, v in picked[:top]]
    return "\n".join(out) + "\n"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    p.add_argument("--server", default="daphne", choices=("daphne", "uvicorn", "uvloop"))
    p.add_argument("--fn", default="echo", choices=("echo", "echo_sync"))
    p.add_argument("--conns", type=int, default=32)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        logger.error("py-spy is not installed: pip install -e '.[bench]'")
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = RESULTS / f"profile-{args.server}-{args.fn}-c{args.conns}.collapsed"
    fleet = Fleet()
    try:
        server = fleet.get(args.server)
        spec = {
            "kind": "rpc",
            "url": server.url("/ws/mizan/"),
            "proto": "mizan",
            "fn": args.fn,
            "conns": args.conns,
            "window": 1,
            "warmup_s": 0.5,
            "duration_s": args.seconds + 1,
            "max_ops": 10**7,
            "pid": server.pid,
            "timeout_s": args.seconds + 60,
        }
        result: dict[str, object] = {}
        load = threading.Thread(target=lambda: result.update(run_load(spec)))
        load.start()
        cmd = [spy, "record", "--nonblocking", "-r", "250", "-d", str(int(args.seconds))]
        cmd += ["-p", str(server.pid), "--format", "raw", "-o", str(raw)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=args.seconds + 60)
        load.join(args.seconds + 90)
    finally:
        fleet.stop()
    text = render(*fold(raw), top=args.top)
    text = f"load: {result}\n\n" + text
    report = raw.with_suffix(".txt")
    report.write_text(text)
    sys.stdout.write(text)
    logger.info("wrote %s and %s", report, raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
