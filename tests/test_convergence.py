"""A hypothesis state machine over real in-process sockets: subscribe, publish, lose a
message, restart the layer, reconnect — every client's view converges to the server's truth.

A client's view follows the protocol's rules for a client: a `msg` adds its number, a
`resync` (or a subscription that could not be recovered) refetches the whole truth.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mizan_channels import broker, hub
from mizan_channels.testing import MizanCommunicator
from tests.asgi import application
from tests.conftest import TIMEOUT
from tests.testapp.clients import FeedChannel

TOPIC = "converge"


class Viewer:
    def __init__(self) -> None:
        self.socket = MizanCommunicator(application, timeout=TIMEOUT)
        self.known: set[int] = set()
        self.sub = 0
        self.epoch = ""
        self.seq = 0


class Convergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        hub.reset()
        self.truth: list[int] = []
        self.viewers: list[Viewer] = []
        self.next_n = 0

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(asyncio.wait_for(coro, TIMEOUT * 4))

    # Client side -------------------------------------------------------------------------

    async def _subscribe(self, v: Viewer, since: bool) -> None:
        frame: dict[str, Any] = {"t": "sub", "ch": "feed", "params": {"topic": TOPIC}}
        if since and v.epoch:
            frame["since"] = {"epoch": v.epoch, "seq": v.seq}
        reply = await v.socket.request(frame)
        data = reply["data"]
        v.sub = reply["id"]
        if not data["recovered"]:
            v.known = set(self.truth)  # the initial fetch
            v.epoch, v.seq = data["epoch"], data["seq"]

    async def _drain(self, v: Viewer, until_n: int) -> None:
        """Apply frames until the message carrying `until_n` has been applied."""
        while True:
            f = await v.socket.next_frame(
                lambda f: f["t"] in ("msg", "resync") and f.get("sub") == v.sub
            )
            if f["t"] == "resync":
                v.known = set(self.truth)
                v.epoch = f["epoch"]
                continue
            v.known.add(f["data"]["n"])
            v.seq = f["seq"]
            if f["data"]["n"] == until_n:
                return

    async def _publish(self) -> int:
        n = self.next_n
        self.next_n += 1
        self.truth.append(n)
        await FeedChannel.apush(FeedChannel.DjangoMessage(n=n), topic=TOPIC)
        for v in self.viewers:
            await self._drain(v, n)
        return n

    # Rules -------------------------------------------------------------------------------

    @precondition(lambda self: len(self.viewers) < 4)
    @rule()
    def connect(self) -> None:
        v = Viewer()

        async def go() -> None:
            await v.socket.connect()
            await self._subscribe(v, since=False)

        self.run(go())
        self.viewers.append(v)

    @rule()
    def publish(self) -> None:
        self.run(self._publish())

    @rule()
    def lose_then_publish(self) -> None:
        """A message that takes its position but reaches no process, then a normal one."""
        stream = FeedChannel.stream_for(FeedChannel.Params(topic=TOPIC))
        self.truth.append(self.next_n)
        self.next_n += 1
        with broker.LOCAL.lock:
            broker.LOCAL.seqs[stream] = broker.LOCAL.seqs.get(stream, 0) + 1
        self.run(self._publish())

    @rule()
    def restart_layer(self) -> None:
        """The layer forgets everything (a new epoch), then the stream carries on."""
        with broker.LOCAL.lock:
            broker.LOCAL.epoch = broker.new_epoch()
            broker.LOCAL.seqs.clear()
            broker.LOCAL.history.clear()
        self.run(self._publish())

    @precondition(lambda self: bool(self.viewers))
    @rule(which=st.integers(min_value=0, max_value=3), missed=st.integers(0, 7))
    def reconnect(self, which: int, missed: int) -> None:
        """A client drops, `missed` messages go by, it comes back with `since`."""
        v = self.viewers[which % len(self.viewers)]

        async def go() -> None:
            await v.socket.disconnect()
            others = [o for o in self.viewers if o is not v]
            for _ in range(missed):
                n = self.next_n
                self.next_n += 1
                self.truth.append(n)
                await FeedChannel.apush(FeedChannel.DjangoMessage(n=n), topic=TOPIC)
                for o in others:
                    await self._drain(o, n)
            v.socket = MizanCommunicator(application, timeout=TIMEOUT)
            await v.socket.connect()
            await self._subscribe(v, since=True)
            await self._publish()  # replayed messages (if recovered) arrive before this one

        self.run(go())

    @invariant()
    def every_view_matches_the_truth(self) -> None:
        for i, v in enumerate(self.viewers):
            assert v.known == set(self.truth), (i, sorted(set(self.truth) - v.known))

    def teardown(self) -> None:
        for v in self.viewers:
            self.loop.run_until_complete(v.socket.disconnect())
        self.loop.close()
        hub.reset()


@pytest.mark.django_db(transaction=True)
def test_views_converge() -> None:
    ci = os.environ.get("CI", "").lower() == "true"
    run_state_machine_as_test(
        Convergence,
        settings=settings(
            max_examples=25,
            stateful_step_count=12,
            deadline=None,
            derandomize=ci,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
