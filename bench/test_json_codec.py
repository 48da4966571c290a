"""The codec benchmark does the same work both ways (no timing asserted here)."""

from __future__ import annotations

import orjson

from bench import json_codec


def test_both_codecs_produce_the_same_reply() -> None:
    assert orjson.loads(json_codec.with_orjson()) == orjson.loads(json_codec.with_stdlib())
    result = json_codec.run(n=50, rounds=1)
    assert result["orjson_us"] > 0 and result["stdlib_us"] > 0
