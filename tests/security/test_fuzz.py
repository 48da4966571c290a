"""Fuzzing: hypothesis against the frame handler in-process (the sans-I/O session and the
real consumer), the KDL IR writer/parser round trip, and the atheris harness for a bounded
time. Derandomized under CI=true so a red run is reproducible.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from mizan_channels import protocol
from mizan_channels.ir import IRSyntaxError, emit, parse
from mizan_channels.ir.model import (
    Alias,
    Document,
    EnumType,
    Field,
    ListOf,
    MapOf,
    OptionalOf,
    Primitive,
    Struct,
)
from mizan_channels.session import Limits, Reject, Session
from tests.conftest import TIMEOUT
from tests.security.support import LogTrap
from tests.servers import ROOT

CI = os.environ.get("CI", "").lower() == "true"
EXAMPLES = 500
ATHERIS_SECONDS = int(os.environ.get("MIZAN_ATHERIS_SECONDS", "20"))

SAFE_FNS = ["echo", "aecho", "whoami", "many", "maybe", "nope", "http_only", "staff_only"]
KINDS = ["call", "sub", "unsub", "send", "auth", "ping", "warp", ""]
JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


@st.composite
def frames(draw: Any) -> str:
    """A frame that is mostly well-formed, with any field possibly wrong."""
    kind = draw(st.sampled_from(["shaped", "shaped", "shaped", "json", "text"]))
    if kind == "text":
        return str(draw(st.text(max_size=60)))
    if kind == "json":
        return protocol.dumps(draw(JSONISH)).decode()
    frame: dict[str, Any] = {"t": draw(st.sampled_from(KINDS))}
    frame["id"] = draw(st.one_of(st.integers(0, 50), JSONISH))
    frame["fn"] = draw(st.one_of(st.sampled_from(SAFE_FNS), JSONISH))
    frame["ch"] = draw(st.one_of(st.sampled_from(["chat", "news", "guarded", "x"]), JSONISH))
    frame["args"] = draw(st.one_of(st.fixed_dictionaries({"text": st.text(max_size=10)}), JSONISH))
    frame["params"] = draw(
        st.one_of(st.fixed_dictionaries({"room": st.text(max_size=10)}), JSONISH)
    )
    frame["sub"] = draw(st.one_of(st.integers(0, 50), JSONISH))
    frame["token"] = draw(st.one_of(st.text(max_size=30), JSONISH))
    frame["data"] = draw(JSONISH)
    for key in list(frame):
        if key != "t" and draw(st.booleans()):
            del frame[key]
    return protocol.dumps(frame).decode()


@given(batch=st.lists(st.one_of(frames(), st.binary(max_size=40)), max_size=30))
@hsettings(max_examples=EXAMPLES, derandomize=CI, deadline=None)
def test_session_answers_every_frame_with_a_frame_or_an_error(batch: list[Any]) -> None:
    session = Session(Limits(max_frame_bytes=512, rate=10**9, abuse_strikes=10**9))
    for item in batch:
        got = session.receive(item, binary=isinstance(item, bytes))
        if isinstance(got, Reject):
            reply = protocol.loads(got.frame)
            assert reply["t"] == "err" and got.close is None
            assert reply["error"]["code"] in {"bad_frame", "too_large", "rate_limited"}
        else:
            session.done(got)
    assert session.in_flight == set() and session.calls_in_flight == 0


@pytest.mark.django_db(transaction=True)
@given(batch=st.lists(frames(), min_size=1, max_size=8))
@hsettings(
    max_examples=EXAMPLES,
    derandomize=CI,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_consumer_survives_any_frames(batch: list[str], logs: LogTrap) -> None:
    """Whatever the frames: every request with a usable id gets exactly one reply, the
    socket is never closed, a ping still works after, and nothing logs an ERROR."""
    from mizan_channels.testing import MizanCommunicator

    async def scenario() -> None:
        async with MizanCommunicator(timeout=TIMEOUT) as c:
            for text in batch:
                await c.send_input({"type": "websocket.receive", "text": text})
            assert (await c.request({"t": "ping"}))["t"] == "pong"
            replies = [f for f in c._backlog if f["t"] in ("ok", "err", "pong")]
            # Late replies (slow calls) may still be coming; all of them within the timeout.
            while len(replies) < len(batch):
                frame = await c.next_frame(lambda f: f["t"] in ("ok", "err", "pong"))
                replies.append(frame)
            for f in replies:
                if f["t"] == "err":
                    assert "Traceback" not in f["error"]["message"]

    async_to_sync(scenario)()
    assert not logs.errors(), logs.text()[-2000:]


# KDL ---------------------------------------------------------------------------------------

NAMES = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,15}\Z")
TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
SHAPES = st.recursive(
    st.builds(Primitive, st.sampled_from(["str", "int", "float", "bool", "any", "uuid"])),
    lambda inner: st.builds(ListOf, inner) | st.builds(MapOf, inner) | st.builds(OptionalOf, inner),
    max_leaves=4,
)


@st.composite
def documents(draw: Any) -> Document:
    types: dict[str, Any] = {}
    for name in draw(st.lists(NAMES, max_size=4, unique=True)):
        kind = draw(st.sampled_from(["struct", "enum", "alias"]))
        doc = draw(st.none() | TEXT)
        if kind == "struct":
            fields = draw(st.lists(NAMES, max_size=4, unique=True))
            types[name] = Struct(
                name, tuple(Field(f, draw(SHAPES), doc=draw(st.none() | TEXT)) for f in fields), doc
            )
        elif kind == "enum":
            values = draw(st.lists(TEXT, min_size=1, max_size=4, unique=True))
            types[name] = EnumType(name, tuple(values), doc)
        else:
            types[name] = Alias(name, draw(SHAPES), doc)
    return Document(types=tuple(sorted(types.values(), key=lambda t: t.name)))


@given(doc=documents())
@hsettings(max_examples=EXAMPLES, derandomize=CI, deadline=None)
def test_kdl_round_trip_keeps_hostile_text(doc: Document) -> None:
    text = emit(doc)
    back = parse(text)
    assert emit(back) == text
    assert {t.name: t for t in back.types} == {t.name: t for t in doc.types}


@given(
    text=st.one_of(
        st.text(max_size=200), st.builds(lambda d: emit(d)[: len(emit(d)) // 2], documents())
    )
)
@hsettings(max_examples=EXAMPLES, derandomize=CI, deadline=None)
def test_kdl_parser_refuses_garbage_with_its_own_error(text: str) -> None:
    with contextlib.suppress(IRSyntaxError):
        parse(text)


# atheris -----------------------------------------------------------------------------------


def test_atheris_frame_decode_harness() -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        pytest.skip("atheris is not installed (pip install -e .[dev])")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.security.fuzz_frames",
            f"-max_total_time={ATHERIS_SECONDS}",
            "-rss_limit_mb=1024",
            "-print_final_stats=1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=ATHERIS_SECONDS + 60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "stat::number_of_executed_units" in done.stderr
