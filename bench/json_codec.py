"""The hot path's JSON work, orjson (what `mizan_channels.protocol` uses) against the stdlib
`json` module doing the same: decode a `call` frame, validate its arguments with the
function's Pydantic model, and encode the `ok` reply around the already-encoded output.

    python -m bench.json_codec

Runs in-process (no server): it isolates the codec's share of a call, which the RPC
scenarios of `python -m bench` measure as part of the whole round trip.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from typing import Any

import orjson
from pydantic import BaseModel

from mizan_channels import protocol

logger = logging.getLogger("bench.json_codec")

FRAME = b'{"t":"call","id":42,"fn":"post_message","args":{"room":"lobby","text":"hello there"}}'


class Args(BaseModel):
    room: str
    text: str


class Out(BaseModel):
    id: int
    room: str
    text: str
    user: str


OUTPUT = Out(id=7, room="lobby", text="hello there", user="ann")


def with_orjson() -> bytes:
    frame = protocol.parse_frame(FRAME)
    assert isinstance(frame, protocol.Call)
    Args.model_validate(frame.args)
    data = OUTPUT.__pydantic_serializer__.to_json(OUTPUT)
    return protocol.ok(frame.id, protocol.Fragment(data))


def with_stdlib() -> bytes:
    frame = json.loads(FRAME)
    if not isinstance(frame, dict) or not isinstance(frame.get("t"), str):
        raise ValueError("bad frame")
    Args.model_validate(frame.get("args", {}))
    data = OUTPUT.model_dump(mode="json")
    return json.dumps({"t": "ok", "id": frame["id"], "data": data}, separators=(",", ":")).encode()


def _per_call_us(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def run(n: int = 20_000, rounds: int = 5) -> dict[str, Any]:
    """Median microseconds per call of each codec over `rounds` rounds of `n` calls."""
    assert orjson.loads(with_orjson()) == json.loads(with_stdlib())  # same work, same bytes
    samples: dict[str, list[float]] = {"orjson": [], "stdlib": []}
    for _ in range(rounds):
        for name, fn in (("orjson", with_orjson), ("stdlib", with_stdlib)):
            samples[name].append(_per_call_us(fn, n))
    med = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "orjson_us": round(med["orjson"], 2),
        "stdlib_us": round(med["stdlib"], 2),
        "ratio": round(med["orjson"] / med["stdlib"], 2),
        "rounds": samples,
    }


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    result = run()
    logger.info(
        "per call: orjson %.2f us, stdlib json %.2f us (ratio %.2f)",
        result["orjson_us"],
        result["stdlib_us"],
        result["ratio"],
    )
