"""bench/ir_export.py runs and reports numbers (a small registry, so the suite stays fast)."""

from __future__ import annotations

from bench.ir_export import run


def test_the_export_benchmark_runs_and_reports_its_figures() -> None:
    result = run(n_functions=30, n_models=20, repeat=2)
    assert result["n_functions"] == 30 and result["repeat"] == 2
    assert result["types"] > 20 and result["bytes"] > 1000
    for key in ("build_s", "emit_s", "export_s", "parse_s"):
        assert result[key] > 0, key
