"""IR export time for a large registry: `run(n_functions, n_models)` builds a synthetic
registry of its own (never the global one) and times `build_ir` + `emit`, and `parse`.

    python -m bench.ir_export [--functions 1000] [--models 1000] [--repeat 3]

The models form a graph like a real app's: in families of ten, each refers to the one
before it (an optional parent) and to the one before that (a list of children), with
constraints, a Literal, defaults and an `int | bool` union; every third function returns
`list[Model]` (a named alias). The result is one JSON line on stdout; the benchmark harness
(bench/cases.py) keeps its numbers.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any, Literal

from pydantic import Field, create_model


def _configure_django() -> None:
    """The registry modules import Django; a bare process gets minimal settings."""
    from django.conf import settings

    if not settings.configured:
        import os

        if not os.environ.get("DJANGO_SETTINGS_MODULE"):
            settings.configure(USE_TZ=True)


def synthetic_registry(n_functions: int, n_models: int) -> Any:
    """A fresh Registry holding `n_functions` functions over `n_models` models."""
    _configure_django()
    from mizan_channels.client import build_spec
    from mizan_channels.registry import Registry

    models: list[Any] = []
    for i in range(n_models):
        fields: dict[str, Any] = {
            "id": (int, Field(ge=0, description="Primary key.")),
            "name": (str, Field(max_length=100)),
            "tags": (list[str], Field(default_factory=list, max_length=20)),
            "kind": (Literal["a", "b", "c"], "a"),
            "score": (float | None, None),
            "flag": (int | bool, 0),
        }
        # Models come in families of ten, each member referring to earlier ones: deep
        # enough to exercise refs, and Pydantic's own schema building stays linear.
        if i % 10 > 0:
            fields["parent"] = (models[i - 1] | None, None)
        if i % 10 > 1:
            fields["children"] = (list[models[i - 2]], [])  # type: ignore[name-defined]
        models.append(create_model(f"Model{i}", __module__=__name__, **fields))

    reg = Registry()
    for i in range(n_functions):
        model = models[i % n_models] if n_models else str

        def fn(request: Any, item: Any, limit: int = 10) -> Any:
            raise NotImplementedError

        fn.__name__ = fn.__qualname__ = f"fn_{i}"
        fn.__annotations__ = {
            "item": model,
            "limit": int,
            "return": list[model] if i % 3 == 0 else model,  # type: ignore[valid-type]
        }
        flags: dict[str, Any] = {"websocket": i % 2 == 0}
        if i % 5 == 1:
            flags["affects"] = "user"
        if i % 7 == 2:
            flags["auth"] = "staff"
        reg.add_function(build_spec(fn, **flags), f"app.fn_{i}")
    return reg


def run(n_functions: int = 1000, n_models: int = 1000, repeat: int = 3) -> dict[str, Any]:
    """Seconds for setup (not part of export), build, emit, build+emit (median of
    `repeat`), and one parse of the result; plus the document's size."""
    from mizan_channels.ir import build_ir, emit, parse

    started = time.perf_counter()
    reg = synthetic_registry(n_functions, n_models)
    setup = time.perf_counter() - started
    builds: list[float] = []
    emits: list[float] = []
    text = ""
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        doc = build_ir(reg)
        t1 = time.perf_counter()
        out = emit(doc)
        t2 = time.perf_counter()
        builds.append(t1 - t0)
        emits.append(t2 - t1)
        if text and out != text:
            raise AssertionError("two exports of one registry differ: output is not deterministic")
        text = out
    t0 = time.perf_counter()
    back = parse(text)
    parse_s = time.perf_counter() - t0
    if emit(back) != text:
        raise AssertionError("emit(parse(text)) != text on the benchmark document")
    totals = [b + e for b, e in zip(builds, emits, strict=True)]
    return {
        "n_functions": n_functions,
        "n_models": n_models,
        "types": len(doc.types),
        "bytes": len(text.encode()),
        "lines": text.count("\n"),
        "setup_s": round(setup, 4),
        "build_s": round(statistics.median(builds), 4),
        "emit_s": round(statistics.median(emits), 4),
        "export_s": round(statistics.median(totals), 4),
        "parse_s": round(parse_s, 4),
        "repeat": len(totals),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ir_export", description=__doc__)
    parser.add_argument("--functions", type=int, default=1000)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    result = run(args.functions, args.models, args.repeat)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
