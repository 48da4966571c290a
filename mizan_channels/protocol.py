"""Wire format: JSON encode/decode (orjson, the one JSON module) and frame shapes.

Imports neither Django nor Channels, so it can be tested and fuzzed on its own and used
by the Python client. Frames are parsed by hand rather than through Pydantic: a frame is
a handful of fields and this runs for every message on every socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

PROTOCOL_VERSION = 1

Fragment = orjson.Fragment


class FrameError(Exception):
    """A frame that is not what the protocol says; carries the error code and the
    frame's id when one could be read."""

    def __init__(self, code: str, message: str, frame_id: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.frame_id = frame_id


def dumps(value: Any) -> bytes:
    """Encode a frame or payload. Raises TypeError for values JSON cannot hold."""
    return orjson.dumps(value)


def loads(data: bytes | str) -> Any:
    """Decode JSON strictly: NaN, Infinity, invalid UTF-8, lone surrogates and nesting
    deeper than 1024 are refused (orjson's rules), as `ValueError`."""
    return orjson.loads(data)


@dataclass(frozen=True, slots=True)
class Call:
    id: int
    fn: str
    args: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Sub:
    id: int
    ch: str
    params: dict[str, Any]
    since: tuple[str, int] | None


@dataclass(frozen=True, slots=True)
class Unsub:
    id: int
    sub: int


@dataclass(frozen=True, slots=True)
class Send:
    id: int
    sub: int
    data: Any


@dataclass(frozen=True, slots=True)
class Auth:
    id: int
    token: str


@dataclass(frozen=True, slots=True)
class Ping:
    id: int


Frame = Call | Sub | Unsub | Send | Auth | Ping


def _int(frame: dict[str, Any], key: str, frame_id: int | None) -> int:
    value = frame.get(key)
    # bool is an int subclass; `true` is not an id.
    if type(value) is not int:
        raise FrameError("bad_frame", f"field '{key}' must be an integer", frame_id)
    if not -(2**53) <= value <= 2**53:
        raise FrameError("bad_frame", f"field '{key}' is out of range", frame_id)
    return value


def _str(frame: dict[str, Any], key: str, frame_id: int | None) -> str:
    value = frame.get(key)
    if not isinstance(value, str):
        raise FrameError("bad_frame", f"field '{key}' must be a string", frame_id)
    return value


def _obj(frame: dict[str, Any], key: str, frame_id: int | None) -> dict[str, Any]:
    value = frame.get(key, {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FrameError("bad_frame", f"field '{key}' must be an object", frame_id)
    return value


def _since(frame: dict[str, Any], frame_id: int) -> tuple[str, int] | None:
    since = frame.get("since")
    if since is None:
        return None
    if not isinstance(since, dict) or not isinstance(since.get("epoch"), str):
        raise FrameError("bad_frame", "field 'since' must be {epoch, seq}", frame_id)
    seq = _int(since, "seq", frame_id)
    if seq < 0:  # positions start at 0; a backend asked to replay from before it may raise
        raise FrameError("bad_frame", "field 'since.seq' must not be negative", frame_id)
    return since["epoch"], seq


def frame_id(data: bytes | str) -> int | None:
    """The `id` of a frame that will not be carried out (over the rate limit), or None when
    it has no usable one: the client can then fail that request at once instead of waiting
    for a reply that never comes (protocol.md: `err.id` is null only without a usable id)."""
    try:
        frame = loads(data)
        return _int(frame, "id", None) if isinstance(frame, dict) else None
    except (FrameError, ValueError, TypeError):
        return None


def parse_frame(data: bytes | str) -> Frame:
    """Decode one client frame. Raises FrameError (code `bad_frame`) naming the field."""
    try:
        frame = loads(data)
    except (ValueError, TypeError):
        raise FrameError("bad_frame", "frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise FrameError("bad_frame", "frame must be a JSON object")
    raw_id = frame.get("id")
    frame_id = raw_id if type(raw_id) is int else None
    t = frame.get("t")
    if not isinstance(t, str):
        raise FrameError("bad_frame", "field 't' must be a string", frame_id)
    fid = _int(frame, "id", None)
    if t == "call":
        return Call(fid, _str(frame, "fn", fid), _obj(frame, "args", fid))
    if t == "sub":
        return Sub(fid, _str(frame, "ch", fid), _obj(frame, "params", fid), _since(frame, fid))
    if t == "unsub":
        return Unsub(fid, _int(frame, "sub", fid))
    if t == "send":
        if "data" not in frame:
            raise FrameError("bad_frame", "field 'data' is required", fid)
        return Send(fid, _int(frame, "sub", fid), frame["data"])
    if t == "auth":
        return Auth(fid, _str(frame, "token", fid))
    if t == "ping":
        return Ping(fid)
    raise FrameError("bad_frame", f"unknown frame type {t[:32]!r}", fid)


# Server frames. `data` may be an orjson.Fragment holding already-encoded JSON.


def ok(frame_id: int, data: Any = None) -> bytes:
    return dumps({"t": "ok", "id": frame_id, "data": data})


def err(frame_id: int | None, error: dict[str, Any]) -> bytes:
    return dumps({"t": "err", "id": frame_id, "error": error})


def error_payload(code: str, message: str, details: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        out["details"] = details
    return out


def pong(frame_id: int) -> bytes:
    return dumps({"t": "pong", "id": frame_id})


def hello(conn: str, epoch: dict[str, str], **extra: Any) -> bytes:
    return dumps({"t": "hello", "v": PROTOCOL_VERSION, "conn": conn, "epoch": epoch, **extra})


def msg(sub: int, seq: int, data: Any) -> bytes:
    return dumps({"t": "msg", "sub": sub, "seq": seq, "data": data})


def inv(aud: str, seq: int | None, keys: list[dict[str, str]]) -> bytes:
    return dumps({"t": "inv", "aud": aud, "seq": seq, "keys": keys})


def end(sub: int, reason: str) -> bytes:
    return dumps({"t": "end", "sub": sub, "reason": reason})


def resync_sub(sub: int, epoch: str) -> bytes:
    return dumps({"t": "resync", "sub": sub, "epoch": epoch})


def resync_aud(aud: str, epoch: str) -> bytes:
    return dumps({"t": "resync", "aud": aud, "epoch": epoch})


def apply_diff(state: dict[str, dict[str, Any]], frame: dict[str, Any]) -> None:
    """Apply a `presence` frame to a roster (key -> {ref: meta}) in place: `state` replaces
    it; otherwise leaves, then joins. A key with no refs left is a user who left."""
    if "state" in frame:
        state.clear()
        state.update({k: dict(v) for k, v in frame["state"].items()})
        return
    for key, refs in (frame.get("leaves") or {}).items():
        entry = state.get(key)
        if entry is not None:
            for ref in refs:
                entry.pop(ref, None)
            if not entry:
                del state[key]
    for key, refs in (frame.get("joins") or {}).items():
        state.setdefault(key, {}).update(refs)
