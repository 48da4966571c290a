"""Starting a coroutine eagerly: its first step runs at once, in the caller's turn of the
event loop, and a task is made only if it has to wait.

Most socket requests (an `async def` function that reads a cache, a ping, an unsubscribe)
finish without ever waiting. Giving each its own task costs a task object and a further
turn of the loop before it starts; on daphne, where each turn also runs Twisted's reactor,
that was a fifth of a call's server CPU. Python 3.12's `Task(eager_start=True)` does the
same; this works on 3.11 too.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine, Generator
from typing import Any


def start(
    coro: Coroutine[Any, Any, None], context: contextvars.Context
) -> asyncio.Task[None] | None:
    """Run `coro` in `context` until it finishes (None) or waits (the task carrying it on).
    An exception it raises before waiting propagates to the caller."""
    try:
        waiting_on = context.run(coro.send, None)
    except StopIteration:
        return None
    loop = asyncio.get_running_loop()
    return loop.create_task(_Started(coro, waiting_on), context=context)


class _Started(Coroutine[Any, Any, None]):
    """A coroutine whose first step has run, as a task's coroutine. The task's first step
    returns what the coroutine yielded (the future it waits for, or None for a bare
    yield), so the task waits for it; every later step, and anything thrown in
    (cancellation included, even before that first step), goes to the coroutine itself."""

    __slots__ = ("coro", "first", "waiting_on")

    def __init__(self, coro: Coroutine[Any, Any, None], waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on
        self.first = True

    def send(self, value: Any) -> Any:
        if self.first:
            self.first = False
            return self.waiting_on
        return self.coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        self.first = False
        if val is None and tb is None:
            return self.coro.throw(typ)
        return self.coro.throw(typ, val, tb)

    def close(self) -> None:
        self.coro.close()

    def __await__(self) -> Generator[Any, None, None]:
        raise TypeError("a started coroutine is driven by its task, not awaited")
