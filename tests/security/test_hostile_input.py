"""Hostile frames and bodies: each gets its protocol error code, the socket stays usable,
nothing is logged at ERROR, and no traceback reaches the client.

In-process for every input on both transports; at real daphne for what only a real server
sees (bytes that aren't UTF-8 inside a text frame, frames at the real 1 MiB limit).
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from mizan_channels import protocol
from mizan_channels.remote import connect
from tests.conftest import TIMEOUT
from tests.security.support import LogTrap, assert_clean, daphne, reply
from tests.sockets import sock, still_works

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = "[" * 100_000 + "]" * 100_000
BIG = "9" * 5000
CALL = '{"t":"call","id":7,"fn":"echo","args":{"text":%s}}'

#: name -> (text frame, expected code, expected reply id)
HOSTILE: dict[str, tuple[str, str, int | None]] = {
    "100k nested brackets": (DEEP, "bad_frame", None),
    "100k nested brackets in args": (CALL % DEEP, "bad_frame", None),
    "100k nested objects": ('{"a":' * 50_000 + "1" + "}" * 50_000, "bad_frame", None),
    "5000-digit id": (f'{{"t":"ping","id":{BIG}}}', "bad_frame", None),
    "5000-digit argument": (CALL % BIG, "bad_frame", None),
    "negative 5000-digit": (CALL % ("-" + BIG), "bad_frame", None),
    "NaN": (CALL % "NaN", "bad_frame", None),
    "Infinity": (CALL % "Infinity", "bad_frame", None),
    "-Infinity": (CALL % "-Infinity", "bad_frame", None),
    "1e400": (CALL % "1e400", "bad_frame", None),
    "escaped lone surrogate": (CALL % '"\\ud800"', "bad_frame", None),
    "raw lone surrogate": (CALL % '"\ud800"', "bad_frame", None),
    "escaped NUL": (CALL % '"a\\u0000b"', "ok", 7),
    "wrong type in args": (CALL % "[1,2]", "invalid_params", 7),
    "empty": ("", "bad_frame", None),
    "whitespace": (" \n\t ", "bad_frame", None),
    "BOM": ("\ufeff{}", "bad_frame", None),
    "trailing garbage": ('{"t":"ping","id":1}x', "bad_frame", None),
    "two objects": ('{"t":"ping","id":1}{"t":"ping","id":2}', "bad_frame", None),
    "huge id": ('{"t":"ping","id":9007199254740993}', "bad_frame", None),
    "float id": ('{"t":"ping","id":1.0}', "bad_frame", None),
    "fn is an object": ('{"t":"call","id":3,"fn":{"a":1}}', "bad_frame", 3),
    "fn is 100k chars": ('{"t":"call","id":3,"fn":"%s"}' % ("f" * 100_000), "unknown_function", 3),
    "channel is 100k chars": (
        '{"t":"sub","id":3,"ch":"%s"}' % ("c" * 100_000),
        "unknown_channel",
        3,
    ),
    "dunder fn": ('{"t":"call","id":3,"fn":"__class__"}', "unknown_function", 3),
    "type is 100k chars": ('{"t":"%s","id":3}' % ("t" * 100_000), "bad_frame", 3),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_hostile_frame_gets_its_code_and_the_socket_lives(name: str, logs: LogTrap) -> None:
    text, code, frame_id = HOSTILE[name]
    async with sock() as c:
        await c.send_input({"type": "websocket.receive", "text": text})
        got = await reply(c)
        assert got.get("id") == frame_id, got
        assert (got["error"]["code"] if got["t"] == "err" else "ok") == code, got
        assert_clean(got)
        assert len(protocol.dumps(got)) < 2000  # the error never echoes the input back
        await still_works(c)
    assert not logs.errors(), logs.text()


@pytest.mark.parametrize(
    "raw", [b"\xff\xfe\xfd", b'{"t":"ping","id":1}', b"\x00" * 1000, b"\xed\xa0\x80"]
)
async def test_binary_frames_are_bad_frame(raw: bytes, logs: LogTrap) -> None:
    async with sock() as c:
        await c.send_to(bytes_data=raw)
        got = await reply(c)
        assert (got["id"], got["error"]["code"]) == (None, "bad_frame")
        await still_works(c)
    assert not logs.errors()


async def test_duplicate_keys_last_one_wins_on_both_transports(logs: LogTrap) -> None:
    """orjson keeps the last of duplicate keys; HTTP and the socket parse with the same
    function, so no input means one thing to one transport and another to the other."""
    frame = '{"t":"call","id":1,"fn":"boom","fn":"echo","args":{"text":"a","text":"b"}}'
    async with sock() as c:
        await c.send_to(text_data=frame)
        assert (await reply(c, 1))["data"] == {"message": "b"}
    body = '{"text":"a","text":"b"}'

    def http() -> Any:
        return Client().post("/api/mizan/call/echo", data=body, content_type="application/json")

    assert (await sync_to_async(http)()).json()["data"] == {"message": "b"}
    assert not logs.errors()


def test_hostile_bodies_over_http(db: None, logs: LogTrap) -> None:
    """The same inputs as arguments of an HTTP call: 400 with the same codes."""
    client = Client()
    for name, (text, code, _) in HOSTILE.items():
        args_at = CALL.index('{"text"')
        if not text.startswith(CALL[:args_at]) or code == "ok":
            continue
        body = text[args_at:-1]  # the args object, as the POST body
        r = client.post(
            "/api/mizan/call/echo",
            data=body.encode("utf-8", "surrogatepass"),
            content_type="application/json",
        )
        assert (r.status_code, r.json()["error"]["code"]) == (400, code), name
        assert_clean(r.json())
    for raw in (b"\xff\xfe", DEEP.encode(), BIG.encode()):
        r = client.post("/api/mizan/call/echo", data=raw, content_type="application/json")
        assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_frame")
    assert not logs.errors(), logs.text()


@pytest.mark.parametrize("fn", ["surrogate", "unserializable", "bad_output"])
async def test_unencodable_result_is_server_error_not_a_dead_socket(fn: str) -> None:
    async with sock() as c:
        got = await c.request({"t": "call", "fn": fn})
        assert got["error"]["code"] == "server_error"
        assert_clean(got)
        await still_works(c)


# At real daphne -------------------------------------------------------------------------


async def frames_until(ws: Any, frame_id: int) -> dict[str, Any]:
    while True:
        got = protocol.loads(await ws.recv())
        if got.get("id") == frame_id or (got["t"] == "err" and got["id"] is None):
            return dict(got)


@pytest.mark.e2e
async def test_real_server_limits_and_invalid_utf8(sec_db: str) -> None:
    """With MIZAN_MAX_FRAME_BYTES under daphne's own message limit (1 MiB since 4.2.2):
    limit-1 and limit pass, limit+1 is `too_large` and the socket lives; past daphne's limit
    daphne closes with 1009. A function's unencodable result is `server_error`; a text frame
    that is not UTF-8 is a WebSocket protocol violation daphne closes (1007). Other sockets
    never notice."""
    limit = 512 * 1024
    with daphne(sec_db, MAX_FRAME_BYTES=str(limit)) as d:
        url = d.ws_url + "/ws/mizan/"
        async with connect(url, timeout=TIMEOUT, reconnect=False) as bystander:
            async with ws_connect(url, origin="http://127.0.0.1", max_size=None) as ws:  # type: ignore[arg-type]
                assert protocol.loads(await ws.recv())["t"] == "hello"
                head = '{"t":"call","id":%d,"fn":"echo","args":{"text":"'
                for i, size in enumerate((limit - 1, limit, limit + 1), start=1):
                    # Two-byte characters: the limit counts bytes, not characters.
                    filler = size - len(head % i) - 3
                    text = (head % i) + "é" * (filler // 2) + "x" * (filler % 2) + '"}}'
                    assert len(text.encode()) == size
                    await ws.send(text)
                    got = await frames_until(ws, i)
                    if size <= limit:
                        assert got["t"] == "ok", size
                    else:
                        assert (got["id"], got["error"]["code"]) == (None, "too_large")
                for i, fn in enumerate(("surrogate", "unserializable"), start=10):
                    await ws.send(protocol.dumps({"t": "call", "id": i, "fn": fn}).decode())
                    got = await frames_until(ws, i)
                    assert got["error"]["code"] == "server_error"
                    assert_clean(got)
                await ws.send('{"t":"ping","id":99}')
                assert (await frames_until(ws, 99))["t"] == "pong"
            async with ws_connect(url, origin="http://127.0.0.1") as big:  # type: ignore[arg-type]
                await big.recv()
                await big.send("x" * (1024 * 1024 + 1))
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await big.recv()
                # autobahn either sends 1009 or drops the connection outright.
                assert closed.value.rcvd is None or closed.value.rcvd.code == 1009
            async with ws_connect(url, origin="http://127.0.0.1") as raw:  # type: ignore[arg-type]
                await raw.recv()
                await raw.send(b'{"t":"ping","id":1,"x":"\xff"}', text=True)
                with pytest.raises(ConnectionClosed) as closed:
                    while True:
                        await raw.recv()
                assert closed.value.rcvd is None or closed.value.rcvd.code == 1007
            assert await bystander.call("echo", text="fine") == {"message": "fine"}
        d.terminate()
        out = d.output()
        # The unencodable results are logged as server errors, by design; the socket
        # application itself never crashed.
        for crash in ("Exception inside application", "was never retrieved", "Unhandled"):
            assert crash not in out, out[-3000:]
