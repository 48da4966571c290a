"""In-process sockets on the test application, shared by the socket-level tests."""

from __future__ import annotations

from typing import Any

from mizan_channels.testing import MizanCommunicator
from tests.asgi import application
from tests.conftest import TIMEOUT


def sock(**kwargs: Any) -> MizanCommunicator:
    return MizanCommunicator(application, timeout=TIMEOUT, **kwargs)


async def still_works(c: MizanCommunicator) -> None:
    """The socket still answers a call and a ping."""
    assert await c.call("echo", text="still") == {"message": "still"}
    assert (await c.request({"t": "ping"}))["t"] == "pong"
