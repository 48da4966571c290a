"""From per-round measurements to what a reader needs: median and min-max per case, the
ratios between peers measured in the same run, and where mizan-channels stands against
the targets of issue 9. Ratios are of medians; a ratio needs both cases measured.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

#: Columns per scenario: (metric, heading, format). The first one is the primary metric.
COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "rpc": [
        ("cpu_us_per_op", "CPU us/call", ".0f"),
        ("throughput", "calls/s", ".0f"),
        ("p50_us", "p50 us", ".0f"),
        ("p99_us", "p99 us", ".0f"),
    ],
    "fanout": [
        ("msgs_per_s", "delivered/s", ".0f"),
        ("cpu_us_per_delivery", "CPU us/dlv", ".1f"),
        ("last_delivery_ms", "last dlv ms", ".0f"),
        ("lost_pct", "lost %", ".1f"),
        ("inv_ok_ms", "inv ok ms", ".2f"),
        ("inv_last_ms", "inv last ms", ".2f"),
        ("inv_cpu_ms_per_event", "inv CPU ms", ".2f"),
    ],
    "idle": [("kib_per_socket", "KiB/socket", ".1f"), ("rss_mib", "RSS MiB", ".0f")],
    "hop": [("cpu_us_per_op", "CPU us/hop", ".1f"), ("wall_us_per_op", "wall us/hop", ".1f")],
}
COLUMNS["pipe"] = COLUMNS["rpc"]
COLUMNS["http"] = COLUMNS["rpc"]


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max of every numeric metric over the rounds that did not fail."""
    good = [r for r in rounds if "failed" not in r]
    out: dict[str, Any] = {"rounds": len(rounds), "failed": len(rounds) - len(good)}
    if len(good) < len(rounds):
        out["failures"] = [r["failed"] for r in rounds if "failed" in r][:3]
    metrics: dict[str, list[float]] = {}
    for r in good:
        for k, v in r.items():
            if isinstance(v, bool):
                out[k] = v
            elif isinstance(v, int | float) and not math.isnan(v):
                metrics.setdefault(k, []).append(float(v))
    out["median"] = {k: statistics.median(v) for k, v in metrics.items()}
    out["min"] = {k: min(v) for k, v in metrics.items()}
    out["max"] = {k: max(v) for k, v in metrics.items()}
    return out


def _cell(summary: dict[str, Any], metric: str, fmt: str) -> str:
    med = summary.get("median", {}).get(metric)
    if med is None:
        return "-"
    lo, hi = summary["min"][metric], summary["max"][metric]
    return f"{med:{fmt}} ({lo:{fmt}}-{hi:{fmt}})"


def tables(summaries: dict[str, dict[str, Any]], scenario_of: dict[str, str]) -> str:
    """Markdown tables, one per scenario: median (min-max) of each metric."""
    out: list[str] = []
    for scenario in ("rpc", "pipe", "fanout", "http", "idle", "ir", "hop"):
        ids = sorted(i for i, s in scenario_of.items() if s == scenario)
        if not ids:
            continue
        cols = COLUMNS.get(scenario)
        if cols is None:  # ir: whatever run() reported
            keys = sorted({k for i in ids for k in summaries[i].get("median", {})})
            cols = [(k, k, ".3g") for k in keys]
        out.append(f"\n### {scenario}\n")
        out.append("| case | " + " | ".join(h for _, h, _ in cols) + " |")
        out.append("|---" * (len(cols) + 1) + "|")
        for i in ids:
            s = summaries[i]
            note = f" FAILED {s['failed']}/{s['rounds']}" if s.get("failed") else ""
            row = [_cell(s, m, f) for m, _, f in cols]
            out.append(f"| {i}{note} | " + " | ".join(row) + " |")
    return "\n".join(out) + "\n"


@dataclass
class Check:
    target: str
    case: str
    value: float
    limit: str
    ok: bool


def _med(summaries: dict[str, dict[str, Any]], case_id: str, metric: str) -> float | None:
    s = summaries.get(case_id)
    if s is None:
        return None
    value = s.get("median", {}).get(metric)
    return float(value) if value is not None else None


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def checks(summaries: dict[str, dict[str, Any]]) -> list[Check]:
    """Every target of issue 9 that this run's cases can judge."""
    out: list[Check] = []
    ids = list(summaries)

    def add(
        target: str, case: str, value: float | None, limit: str, test: Callable[[float], bool]
    ) -> None:
        if value is not None:
            out.append(Check(target, case, value, limit, test(value)))

    for cid in ids:
        parts = cid.split("/")
        if parts[0] in ("rpc", "pipe") and parts[-1] == "mizan":
            stem = "/".join(parts[:-1])
            cpu = _med(summaries, cid, "cpu_us_per_op")
            hand = _med(summaries, stem + "/hand", "cpu_us_per_op")
            r = _ratio(cpu, hand)
            # The bare ASGI app's own ratio, beside it: the least any framework could reach
            # on this server (on daphne with one socket it is itself near 0.5).
            bare = _ratio(_med(summaries, stem + "/raw", "cpu_us_per_op"), hand)
            limit = "<= 0.5" + (f" (bare app {bare:.2f})" if bare is not None else "")
            add("CPU/call vs hand-written Channels", stem, r, limit, lambda v: v <= 0.5)
            r = _ratio(
                _med(summaries, cid, "throughput"), _med(summaries, stem + "/raw", "throughput")
            )
            add("throughput vs raw ASGI", stem, r, ">= 0.5", lambda v: v >= 0.5)
            if parts[0] == "rpc" and "c1" in parts:
                a = _med(summaries, cid, "p50_us")
                b = _med(summaries, stem + "/raw", "p50_us")
                d = None if a is None or b is None else a - b
                add("1-conn p50 latency over raw (us)", stem, d, "<= 100", lambda v: v <= 100)
        if parts[0] == "fanout" and parts[-1] == "mizan":
            n = parts[3]
            rate = _med(summaries, cid, "msgs_per_s")
            layers = ("redis", "pubsub") if parts[2] == "redis" else (parts[2],)
            for layer in layers:
                hand = f"fanout/{parts[1]}/{layer}/{n}/hand"
                r = _ratio(rate, _med(summaries, hand, "msgs_per_s"))
                add(f"fan-out msgs/s vs Channels ({layer} layer)", cid, r, ">= 2", lambda v: v >= 2)
            r = _ratio(rate, _med(summaries, f"fanout/{parts[1]}/memory/{n}/raw", "msgs_per_s"))
            add("fan-out msgs/s vs in-process ceiling", cid, r, ">= 0.3", lambda v: v >= 0.3)
            lost = _med(summaries, cid, "lost_pct")
            add("fan-out loss at default settings (%)", cid, lost, "== 0", lambda v: v == 0)
    for server, layer in {tuple(i.split("/")[1:3]) for i in ids if i.startswith("fanout/")}:
        small = _med(summaries, f"fanout/{server}/{layer}/n100/mizan", "inv_ok_ms")
        big = _med(summaries, f"fanout/{server}/{layer}/n1000/mizan", "inv_ok_ms")
        r = _ratio(big, small)
        add(
            "caller's ok latency after a mutation, 1000 vs 100 sockets",
            f"fanout/{server}/{layer}/mizan",
            r,
            "<= 2.5 (per-member work would give ~10)",
            lambda v: v <= 2.5,
        )
    for cid in ids:
        parts = cid.split("/")
        if parts[0] == "idle" and parts[-1] == "mizan":
            stem = "/".join(parts[:-1])
            a = _med(summaries, cid, "kib_per_socket")
            b = _med(summaries, stem + "/hand", "kib_per_socket")
            d = None if a is None or b is None else a - b
            add("idle memory over Channels (KiB/socket)", stem, d, "<= 5", lambda v: v <= 5)
        if parts[0] == "http" and parts[-1] == "mizan":
            stem = "/".join(parts[:-1])
            for peer in ("plain", "plain_async"):
                r = _ratio(
                    _med(summaries, cid, "cpu_us_per_op"),
                    _med(summaries, f"{stem}/{peer}", "cpu_us_per_op"),
                )
                add(f"HTTP CPU/call vs {peer} Django view", stem, r, "<= 1.2", lambda v: v <= 1.2)
    return out


def checks_table(found: Iterable[Check]) -> str:
    lines = ["| target | case | measured | limit | met |", "|---|---|---|---|---|"]
    for c in found:
        lines.append(
            f"| {c.target} | {c.case} | {c.value:.2f} | {c.limit} | {'yes' if c.ok else 'NO'} |"
        )
    return "\n".join(lines) + "\n"
