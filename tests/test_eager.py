"""`eager.start`: a coroutine's first step runs at once; if it waits, a task carries it on
with the semantics of an ordinary task (results, exceptions, cancellation, context)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from mizan_channels import eager
from tests.conftest import TIMEOUT

var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="caller")


async def test_a_coroutine_that_never_waits_finishes_inside_start() -> None:
    log: list[str] = []

    async def quick() -> None:
        log.append("ran")

    assert eager.start(quick(), contextvars.copy_context()) is None
    assert log == ["ran"]


async def test_a_waiting_coroutine_is_carried_on_by_a_task() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    log: list[object] = []

    async def waits() -> None:
        log.append("before")
        log.append(await fut)
        await asyncio.sleep(0)  # a bare yield after the first wait
        log.append("after")

    task = eager.start(waits(), contextvars.copy_context())
    assert task is not None and log == ["before"]
    fut.set_result(7)
    await asyncio.wait_for(task, TIMEOUT)
    assert log == ["before", 7, "after"]


async def test_the_awaited_futures_exception_reaches_the_coroutine() -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    caught: list[BaseException] = []

    async def waits() -> None:
        try:
            await fut
        except LookupError as exc:
            caught.append(exc)

    task = eager.start(waits(), contextvars.copy_context())
    assert task is not None
    error = LookupError("gone")
    fut.set_exception(error)
    await asyncio.wait_for(task, TIMEOUT)
    assert caught == [error]


@pytest.mark.parametrize("bare_yield", [False, True])
async def test_cancelling_the_task_cancels_the_coroutine(bare_yield: bool) -> None:
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    cleaned = asyncio.Event()

    async def waits() -> None:
        try:
            if bare_yield:
                for _ in range(1000):  # bare yields (a task cancelled between steps)
                    await asyncio.sleep(0)
            await fut
        finally:
            cleaned.set()

    task = eager.start(waits(), contextvars.copy_context())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)
    assert cleaned.is_set()
    assert task.cancelled()


async def test_cancelling_after_the_future_resolved_still_cancels() -> None:
    """The future is done but the task hasn't run yet: the cancellation must not be lost."""
    fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def waits() -> None:
        try:
            await fut
            seen.append("resumed")
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = eager.start(waits(), contextvars.copy_context())
    assert task is not None
    fut.set_result(1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, TIMEOUT)
    assert seen == ["cancelled"]


async def test_it_runs_in_the_given_context_and_leaks_nothing() -> None:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def sets() -> None:
        seen.append(var.get())
        var.set("inside")
        await fut
        seen.append(var.get())

    context = contextvars.copy_context()
    context.run(var.set, "given")
    task = eager.start(sets(), context)
    assert task is not None
    assert var.get() == "caller"
    fut.set_result(None)
    await asyncio.wait_for(task, TIMEOUT)
    assert seen == ["given", "inside"]
    assert var.get() == "caller"


async def test_an_exception_before_waiting_propagates_from_start() -> None:
    async def fails() -> None:
        raise ValueError("early")

    with pytest.raises(ValueError, match="early"):
        eager.start(fails(), contextvars.copy_context())
