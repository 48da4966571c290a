"""Per-socket protocol state without I/O: limits, in-flight ids, stream cursors.

Imports neither Django nor Channels. The consumer feeds it raw frames and gets back either
a parsed frame to carry out or a rejection to send (and maybe a close), so every rule about
what a socket may do is testable by feeding frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import protocol
from .protocol import Call, Frame, FrameError, Sub

#: WebSocket close codes (4000 range: application defined; documented in docs/protocol.md).
CLOSE_RATE_ABUSE = 4008
CLOSE_TOO_LARGE = 4009


@dataclass(frozen=True, slots=True)
class Limits:
    max_frame_bytes: int = 1024 * 1024
    rate: int = 2000
    abuse_strikes: int = 1000
    max_in_flight: int = 64
    max_subscriptions: int = 200


@dataclass(slots=True)
class Reject:
    """Answer to a frame that will not be carried out."""

    frame: bytes
    close: tuple[int, str] | None = None


def _reject(
    frame_id: int | None,
    code: str,
    message: str,
    close: tuple[int, str] | None = None,
    details: Any = None,
) -> Reject:
    return Reject(protocol.err(frame_id, protocol.error_payload(code, message, details)), close)


@dataclass(slots=True)
class Cursor:
    """What a socket has delivered of one stream: everything up to `hi`, plus `ahead`
    (delivered out of order, e.g. its own invalidation sent directly before `ok`)."""

    epoch: str
    hi: int
    ahead: set[int] = field(default_factory=set)

    def accept(self, epoch: str, seq: int) -> bool:
        """True if (epoch, seq) is new for this socket; records it."""
        if epoch != self.epoch:
            self.epoch, self.hi, self.ahead = epoch, seq, set()
            return True
        if seq <= self.hi or seq in self.ahead:
            return False
        if seq == self.hi + 1:
            self.hi = seq
            while self.hi + 1 in self.ahead:
                self.hi += 1
                self.ahead.discard(self.hi)
        else:
            self.ahead.add(seq)
            if len(self.ahead) > 1024:  # the hub resyncs real gaps; keep this bounded
                self.hi = max(self.ahead)
                self.ahead.clear()
        return True


class Session:
    """State of one socket's protocol conversation."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self.in_flight: set[int] = set()
        self.calls_in_flight = 0
        #: `sub` frames accepted but not yet answered: they count toward the cap, or a burst
        #: of pipelined `sub` frames would all pass it before the first one is held.
        self.subs_in_flight = 0
        self.subscriptions: set[int] = set()
        self.cursors: dict[str, Cursor] = {}
        self._tokens = float(limits.rate)
        self._stamp = clock()
        self._strikes = 0

    def _take_token(self) -> bool:
        now = self.clock()
        rate = self.limits.rate
        self._tokens = min(float(rate), self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1.0:
            # Strikes are forgiven only once the bucket is full again (the client kept under
            # the rate for a while): forgiving them on every refilled token would let a flood
            # at any speed below 1000x the rate go on forever without reaching the close.
            if self._tokens >= rate:
                self._strikes = 0
            self._tokens -= 1.0
            return True
        self._strikes += 1
        return False

    def receive(self, data: str | bytes | None, *, binary: bool = False) -> Frame | Reject:
        """Judge one incoming WebSocket message."""
        limits = self.limits
        size = len(data) if data is not None else 0
        if isinstance(data, str) and size * 4 > limits.max_frame_bytes:
            size = len(data.encode("utf-8", "surrogatepass"))
        if size > limits.max_frame_bytes:
            close = None
            if size > 4 * limits.max_frame_bytes:
                close = (CLOSE_TOO_LARGE, "frame far over the size limit")
            return _reject(
                None, "too_large", f"Frame is larger than {limits.max_frame_bytes} bytes.", close
            )
        if not self._take_token():
            close = None
            if self._strikes >= limits.abuse_strikes:
                close = (CLOSE_RATE_ABUSE, "rate limit exceeded persistently")
            # The frame is within the size limit, so reading its id is bounded work; the
            # client learns which request failed instead of waiting for it to time out.
            frame_id = None if binary or data is None else protocol.frame_id(data)
            if frame_id in self.in_flight or frame_id in self.subscriptions:  # taken: not this
                frame_id = None
            return _reject(frame_id, "rate_limited", "Too many requests.", close)
        if binary or data is None:
            return _reject(
                None, "bad_frame", "Frames are UTF-8 JSON text; binary frames are not accepted."
            )
        try:
            frame = protocol.parse_frame(data)
        except FrameError as exc:
            return _reject(exc.frame_id, exc.code, exc.message)
        if frame.id in self.in_flight or (
            isinstance(frame, Sub) and frame.id in self.subscriptions
        ):
            return _reject(
                None,
                "bad_frame",
                "Duplicate id of a request still in flight.",
                details={"id": frame.id},
            )
        if isinstance(frame, Call):
            if self.calls_in_flight >= limits.max_in_flight:
                return _reject(
                    frame.id, "rate_limited", f"More than {limits.max_in_flight} calls in flight."
                )
            self.calls_in_flight += 1
        elif isinstance(frame, Sub):
            if len(self.subscriptions) + self.subs_in_flight >= limits.max_subscriptions:
                return _reject(
                    frame.id, "rate_limited", f"More than {limits.max_subscriptions} subscriptions."
                )
            self.subs_in_flight += 1
        self.in_flight.add(frame.id)
        return frame

    def done(self, frame: Frame) -> None:
        """The request's reply has been queued; its id may be reused."""
        self.in_flight.discard(frame.id)
        if isinstance(frame, Call):
            self.calls_in_flight -= 1
        elif isinstance(frame, Sub):
            self.subs_in_flight -= 1

    def cursor(self, stream: str, epoch: str, seq: int) -> Cursor:
        """The stream's cursor, created at (epoch, seq) when the socket first joins it."""
        cur = self.cursors.get(stream)
        if cur is None:
            cur = self.cursors[stream] = Cursor(epoch, seq)
        return cur

    def accept(self, stream: str, epoch: str, seq: int) -> bool:
        cur = self.cursors.get(stream)
        return cur is not None and cur.accept(epoch, seq)
