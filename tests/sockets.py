"""In-process sockets on the test application, shared by the socket-level tests."""

from __future__ import annotations

from typing import Any

from mizan_channels.testing import MizanCommunicator
from tests.asgi import application
from tests.conftest import TIMEOUT


def sock(**kwargs: Any) -> MizanCommunicator:
    return MizanCommunicator(application, timeout=TIMEOUT, **kwargs)


async def resyncs(c: MizanCommunicator, wanted: set[tuple[str, Any]], timeout: float) -> None:
    """Wait until `c` has been told to resync every (field, value) of `wanted`, e.g.
    {("sub", 3), ("aud", "all")}."""
    left = set(wanted)

    def awaited(f: dict[str, Any]) -> bool:  # others stay in the backlog for their waiters
        return f["t"] == "resync" and any((k, f.get(k)) in left for k in ("sub", "aud"))

    while left:
        frame = await c.next_frame(awaited, timeout=timeout)
        left.difference_update((k, frame[k]) for k in ("sub", "aud") if k in frame)


async def still_works(c: MizanCommunicator) -> None:
    """The socket still answers a call and a ping."""
    assert await c.call("echo", text="still") == {"message": "still"}
    assert (await c.request({"t": "ping"}))["t"] == "pong"
