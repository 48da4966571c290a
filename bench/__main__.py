"""`python -m bench [--quick] [--rounds N] [--only SCENARIO ...]`: run every case, each round
in a new shuffled order, print the tables and the targets, and write bench/results/*.json.

Servers (daphne, uvicorn, uvicorn+uvloop; in-memory, Redis and Redis pub/sub layers) and a
private redis-server are started as subprocesses on free 127.0.0.1 ports and stopped by pid
when the run ends, however it ends.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

from .cases import FULL, QUICK, Case, plan, run_case
from .harness import ROOT, Fleet, machine
from .report import checks, checks_table, summarize, tables

logger = logging.getLogger("bench")
RESULTS = ROOT / "bench" / "results"
SCENARIOS = ("rpc", "pipe", "fanout", "http", "idle", "ir", "hop")


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer cases, shorter windows (~2 min)")
    p.add_argument("--rounds", type=int, default=3, help="rounds (>= 3 for a report; default 3)")
    p.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these scenarios")
    p.add_argument("--seed", type=int, default=None, help="shuffle seed (default: random)")
    p.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/)")
    return p.parse_args(argv)


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (and SIGINT in a background job) end the run through `finally`, which stops
    every server it started."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    args = parse(sys.argv[1:] if argv is None else argv)
    bounds = QUICK if args.quick else FULL
    cases = [c for c in plan(args.quick) if not args.only or c.scenario in args.only]
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    per_case: dict[str, list[dict[str, Any]]] = {c.id: [] for c in cases}
    fleet = Fleet()
    started = time.monotonic()
    try:
        for rnd in range(1, args.rounds + 1):
            order: list[Case] = cases[:]
            rng.shuffle(order)
            logger.info("round %d/%d: %d cases", rnd, args.rounds, len(order))
            for case in order:
                t0 = time.monotonic()
                try:
                    result = run_case(case, fleet, bounds)
                except Exception as exc:  # a broken peer must not lose the other figures
                    result = {"failed": f"{type(exc).__name__}: {exc}"}
                per_case[case.id].append(result)
                if "failed" in result:
                    logger.warning("%s FAILED: %s", case.id, str(result["failed"])[:500])
                else:
                    logger.info("%-45s %.1fs", case.id, time.monotonic() - t0)
    finally:
        fleet.stop()
    elapsed = time.monotonic() - started
    summaries = {cid: summarize(rounds) for cid, rounds in per_case.items()}
    scenario_of = {c.id: c.scenario for c in cases}
    found = checks(summaries)
    text = tables(summaries, scenario_of) + "\n### targets\n\n" + checks_table(found)
    sys.stdout.write(text)
    record = {
        "machine": machine(),
        "args": {"quick": args.quick, "rounds": args.rounds, "only": args.only, "seed": seed},
        "bounds": bounds.__dict__,
        "elapsed_s": elapsed,
        "cases": {cid: {"summary": summaries[cid], "rounds": per_case[cid]} for cid in per_case},
        "targets": [c.__dict__ for c in found],
    }
    out = args.out or RESULTS / time.strftime("bench-%Y%m%d-%H%M%S.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1, default=str))
    logger.info("wrote %s in %.0fs", out, elapsed)
    return 1 if any(s.get("failed") for s in summaries.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
