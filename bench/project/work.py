"""The work every RPC peer does per call, defined once so the peers differ only in framing:
validate `{"text", "n"}` with Pydantic, build the reply model, return it."""

from __future__ import annotations

from pydantic import BaseModel


class EchoIn(BaseModel):
    text: str
    n: int


class EchoOut(BaseModel):
    text: str
    n: int


def echo_work(text: str, n: int) -> EchoOut:
    return EchoOut(text=text, n=n + 1)


async def aecho_work(text: str, n: int) -> EchoOut:
    return EchoOut(text=text, n=n + 1)


#: What a burst message carries: enough bytes to look like a chat line.
FEED_TEXT = "x" * 64
