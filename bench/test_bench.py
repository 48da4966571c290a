"""The harness's own tests: statistics and targets on known numbers, and one real case of
each kind against a real daphne, so a peer that answers wrongly fails the case instead of
producing a figure. Run: `.venv/bin/pytest bench/test_bench.py -q`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.cases import QUICK, Case, plan, run_case
from bench.harness import Fleet
from bench.instructions import totals
from bench.profile import fold
from bench.report import checks, summarize


def test_summary_is_median_and_range_of_good_rounds() -> None:
    s = summarize([{"x": 3.0}, {"x": 1.0}, {"failed": "boom"}, {"x": 2.0}])
    assert s["median"]["x"] == 2.0
    assert (s["min"]["x"], s["max"]["x"]) == (1.0, 3.0)
    assert s["failed"] == 1 and s["failures"] == ["boom"]


def test_callgrind_totals_are_read_by_event_name() -> None:
    dump = "version: 1\nevents: Ir I1mr D1mr\nfn=(1) main\n5 7 1 0\nsummary: 700 12 30\n"
    assert totals(dump) == {"Ir": 700, "I1mr": 12, "D1mr": 30}
    assert totals("events: Ir I1mr D1mr\ntotals: 700 12\n") == {"Ir": 700, "I1mr": 12, "D1mr": 0}
    with pytest.raises(ValueError):
        totals("events: Ir I1mr\n")  # still being written


def _with(metric: str, value: float) -> dict[str, object]:
    return summarize([{metric: value}])


def test_targets_compare_peers_of_the_same_case() -> None:
    stem = "rpc/daphne/memory/c1/kindasync"
    found = checks(
        {
            f"{stem}/mizan": {
                **_with("cpu_us_per_op", 40.0),
                "median": {"cpu_us_per_op": 40.0, "throughput": 900.0, "p50_us": 250.0},
            },
            f"{stem}/hand": _with("cpu_us_per_op", 100.0),
            f"{stem}/raw": {
                "median": {"throughput": 1000.0, "p50_us": 100.0, "cpu_us_per_op": 30.0}
            },
        }
    )
    by_target = {c.target: c for c in found}
    assert by_target["CPU/call vs hand-written Channels"].value == pytest.approx(0.4)
    assert by_target["CPU/call vs hand-written Channels"].ok
    assert by_target["CPU/call vs hand-written Channels"].limit == "<= 0.5 (bare app 0.30)"
    assert by_target["throughput vs raw ASGI"].ok
    latency = by_target["1-conn p50 latency over raw (us)"]
    assert latency.value == pytest.approx(150.0) and not latency.ok


def test_every_planned_case_has_a_unique_id() -> None:
    for quick in (True, False):
        ids = [c.id for c in plan(quick)]
        assert ids and len(ids) == len(set(ids))


def test_fold_counts_a_function_once_per_stack(tmp_path: Path) -> None:
    raw = tmp_path / "p.collapsed"
    raw.write_text("a (x.py:1);b (y.py:2);a (x.py:3) 5\nb (y.py:9) 1\n")
    total, own, incl = fold(raw)
    assert total == 6
    assert own["a (x.py)"] == 5 and own["b (y.py)"] == 1
    assert incl["a (x.py)"] == 5 and incl["b (y.py)"] == 6


needs_peers = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("djangochannelsrestframework", "psutil")),
    reason="the bench extra is not installed (pip install -e '.[bench]')",
)


@pytest.fixture(scope="module")
def fleet() -> Iterator[Fleet]:
    f = Fleet()
    try:
        yield f
    finally:
        f.stop()


@needs_peers
@pytest.mark.timeout(120)
@pytest.mark.parametrize("peer", ["raw", "hand", "dcrf", "rpc", "mizan"])
def test_rpc_case_measures_correct_replies(fleet: Fleet, peer: str) -> None:
    result = run_case(Case("rpc", peer, params={"kind": "async", "c": 2}), fleet, QUICK)
    assert "failed" not in result, result
    assert result["errors"] == 0 and result["ops"] > 0
    assert result["cpu_us_per_op"] > 0


@needs_peers
@pytest.mark.timeout(120)
@pytest.mark.parametrize("peer", ["mizan", "plain", "ninja"])
def test_http_case_measures_correct_replies(fleet: Fleet, peer: str) -> None:
    result = run_case(Case("http", peer), fleet, QUICK)
    assert "failed" not in result, result
    assert result["errors"] == 0 and result["ops"] > 0


@needs_peers
@pytest.mark.timeout(120)
def test_fanout_case_counts_every_delivery(fleet: Fleet) -> None:
    result = run_case(Case("fanout", "mizan", params={"n": 100}), fleet, QUICK)
    assert "failed" not in result, result
    assert result["delivered"] == 100 * QUICK.burst_per_sub[100]
    assert result["lost"] == 0 and result["inv_lost"] == 0
    assert 0 < result["inv_ok_ms"] < 2000  # read by the mutating caller's own process
