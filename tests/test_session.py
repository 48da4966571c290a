"""The sans-I/O session: frames in, decisions out, with a fake clock."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mizan_channels import protocol
from mizan_channels.session import Cursor, Limits, Reject, Session


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def code_of(result: object) -> str:
    assert isinstance(result, Reject)
    return str(orjson.loads(result.frame)["error"]["code"])


def test_token_bucket_refills_with_time() -> None:
    clock = Clock()
    s = Session(Limits(rate=3, abuse_strikes=100), clock)
    results = [s.receive(f'{{"t":"ping","id":{i}}}') for i in range(4)]
    assert [isinstance(r, protocol.Ping) for r in results] == [True, True, True, False]
    assert code_of(results[3]) == "rate_limited" and results[3].close is None  # type: ignore[union-attr]
    clock.now += 1.0
    assert isinstance(s.receive('{"t":"ping","id":9}'), protocol.Ping)


def test_abuse_strikes_close() -> None:
    s = Session(Limits(rate=1, abuse_strikes=3), Clock())
    s.receive('{"t":"ping","id":0}')
    results = [s.receive('{"t":"ping","id":1}') for _ in range(3)]
    assert results[-1].close == (4008, "rate limit exceeded persistently")  # type: ignore[union-attr]


def test_in_flight_ids_and_done() -> None:
    s = Session(Limits(), Clock())
    call = s.receive('{"t":"call","id":1,"fn":"f"}')
    assert isinstance(call, protocol.Call)
    dup = s.receive('{"t":"ping","id":1}')
    assert code_of(dup) == "bad_frame"
    assert orjson.loads(dup.frame)["error"]["details"] == {"id": 1}  # type: ignore[union-attr]
    s.done(call)
    assert isinstance(s.receive('{"t":"ping","id":1}'), protocol.Ping)


def test_calls_in_flight_cap_counts_only_calls() -> None:
    s = Session(Limits(max_in_flight=1), Clock())
    assert isinstance(s.receive('{"t":"call","id":1,"fn":"f"}'), protocol.Call)
    assert code_of(s.receive('{"t":"call","id":2,"fn":"f"}')) == "rate_limited"
    assert isinstance(s.receive('{"t":"ping","id":3}'), protocol.Ping)


def test_subscription_ids_stay_taken_while_subscribed() -> None:
    s = Session(Limits(max_subscriptions=1), Clock())
    sub = s.receive('{"t":"sub","id":5,"ch":"c"}')
    assert isinstance(sub, protocol.Sub)
    s.done(sub)
    s.subscriptions.add(5)
    assert code_of(s.receive('{"t":"sub","id":5,"ch":"c"}')) == "bad_frame"
    assert code_of(s.receive('{"t":"sub","id":6,"ch":"c"}')) == "rate_limited"


@pytest.mark.parametrize("size", [10, 99, 100])
def test_frame_size_limit_counts_utf8_bytes(size: int) -> None:
    s = Session(Limits(max_frame_bytes=100), Clock())
    text = '{"t":"ping","id":1,"x":"' + "é" * ((size - 24) // 2) + '"}'
    result = s.receive(text)
    over = len(text.encode()) > 100
    assert (isinstance(result, Reject) and code_of(result) == "too_large") == over


def test_binary_is_refused() -> None:
    assert code_of(Session(Limits(), Clock()).receive(b"{}", binary=True)) == "bad_frame"


def test_cursor_accepts_each_position_once() -> None:
    c = Cursor("e", 5)
    assert [c.accept("e", n) for n in (5, 6, 8, 7, 8, 9)] == [False, True, True, True, False, True]
    assert c.hi == 9 and not c.ahead
    assert c.accept("new", 1) and (c.epoch, c.hi) == ("new", 1)


@given(st.binary(max_size=200))
def test_any_bytes_get_an_answer(data: bytes) -> None:
    s = Session(Limits(), Clock())
    result = s.receive(data.decode("utf-8", "replace"))
    assert isinstance(
        result,
        Reject
        | protocol.Call
        | protocol.Sub
        | protocol.Unsub
        | protocol.Send
        | protocol.Auth
        | protocol.Ping,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"t":"call","id":7,"fn":"f"}', 7),
        ('{"t":"ping","id":-3}', -3),
        ('{"t":"ping","id":true}', None),
        ('{"t":"ping","id":99999999999999999999}', None),
        ("[7]", None),
        ("not json", None),
    ],
)
def test_rate_limited_reply_names_the_frames_id(raw: str, expected: int | None) -> None:
    # protocol.md: `err.id` is null only when the frame had no usable id; a rate-limited
    # frame still has one, and a client waits on it.
    s = Session(Limits(rate=1, abuse_strikes=100), Clock())
    s.receive('{"t":"ping","id":0}')
    result = s.receive(raw)
    assert code_of(result) == "rate_limited"
    assert orjson.loads(result.frame)["id"] == expected  # type: ignore[union-attr]


def test_rate_limited_frame_reusing_a_running_id_is_answered_without_it() -> None:
    # Its id names a request still running: an error with that id would fail the wrong one.
    s = Session(Limits(rate=1, abuse_strikes=100), Clock())
    assert isinstance(s.receive('{"t":"call","id":5,"fn":"f"}'), protocol.Call)
    result = s.receive('{"t":"call","id":5,"fn":"f"}')
    assert code_of(result) == "rate_limited"
    assert orjson.loads(result.frame)["id"] is None  # type: ignore[union-attr]
    s.subscriptions.add(9)  # a live subscription's id names it, not this request
    result = s.receive('{"t":"unsub","id":9,"sub":9}')
    assert code_of(result) == "rate_limited"
    assert orjson.loads(result.frame)["id"] is None  # type: ignore[union-attr]
