"""scale.md's rules and pitfalls against a private redis-server: what one process asks of
Redis under many sockets and bursts, counted by Redis itself (`INFO commandstats`)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import redis

from mizan_channels import broker
from mizan_channels.hub import Event, get_hub
from tests.conftest import TIMEOUT

pytestmark = pytest.mark.redis


async def test_a_burst_of_publishes_from_one_process_is_never_refused(redis_hub: Any) -> None:
    """1,000 events published at once from one process (1,000 sockets each making a call):
    every one is published, none degraded. redis-py's default pool raised
    `MaxConnectionsError` past 100 connections, losing the rest (scale.md)."""
    hub = get_hub()
    streams = [f"burst{i}" for i in range(1_000)]
    positions = await asyncio.wait_for(
        asyncio.gather(*(hub.publish(s, Event("msg", b"1")) for s in streams)), 4 * TIMEOUT
    )
    assert [p for p in positions if not p[0]] == []
    assert broker.dirty_streams() == []


def test_sync_publishers_share_a_bounded_pool(private_redis: Any, settings: Any) -> None:
    """Threads publishing at once wait for a connection instead of failing past the pool."""
    settings.MIZAN_REDIS_URL = private_redis.url
    results: list[tuple[str, int]] = []
    gate = threading.Barrier(120, timeout=TIMEOUT)

    def publish(i: int) -> None:
        gate.wait()
        results.append(broker.publish_sync(f"sync{i}", Event("msg", b"1")))

    threads = [threading.Thread(target=publish, args=(i,)) for i in range(120)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(4 * TIMEOUT)
    assert len(results) == 120
    assert [p for p in results if not p[0]] == []
    clients = redis.Redis.from_url(private_redis.url).info("clients")["connected_clients"]
    assert clients <= broker.POOL_SIZE + 1  # + the INFO connection


class Inbox:
    """A hub listener that resolves `got` on its first event."""

    def __init__(self) -> None:
        self.got: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_event(self, stream: str, epoch: str, seq: int, event: Event) -> None:
        if not self.got.done():
            self.got.set_result(seq)

    def on_resync(self, stream: str, epoch: str, seq: int) -> None:
        pass


class Resyncs:
    """A hub listener that resolves `done` once `n` streams were resynced."""

    def __init__(self, n: int) -> None:
        self.left = n
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_event(self, stream: str, epoch: str, seq: int, event: Event) -> None:
        pass

    def on_resync(self, stream: str, epoch: str, seq: int) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set_result(None)


def command_calls(url: str, command: str) -> int:
    stats = redis.Redis.from_url(url).info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def test_stream_churn_costs_one_command_per_stream(redis_hub: Any) -> None:
    """Joining 50 streams is 50 SUBSCRIBEs and no more: the reader pinged Redis for each
    subscribe confirmation, as if the connection had been idle for 5 s."""
    hub = get_hub()
    inbox = Inbox()
    streams = [f"churn{i}" for i in range(50)]
    for stream in streams:
        await hub.join(stream, inbox)
    await hub.publish(streams[-1], Event("msg", b"1"))
    await asyncio.wait_for(inbox.got, TIMEOUT)  # the reader has read every confirmation
    assert command_calls(redis_hub.url, "subscribe") == 50
    assert command_calls(redis_hub.url, "ping") <= 1


async def test_core_layer_idle_consumer_lives_only_with_the_host_w018_asks_for(
    private_redis: Any,
) -> None:
    """The pitfall W018 reports, on real Redis: with redis-py 8's defaults an idle `receive()`
    on channels_redis's core layer dies at 5 s; with the host the check's hint gives, it is
    still waiting after 10 s."""
    from channels_redis.core import RedisChannelLayer
    from django.test import override_settings

    from mizan_channels.checks import check_layers

    hinted = {"address": private_redis.url, "socket_timeout": 10}

    async def idle(host: Any) -> str:
        layer = RedisChannelLayer(hosts=[host])
        channel = await layer.new_channel()
        try:
            await asyncio.wait_for(layer.receive(channel), 10.5)
        except TimeoutError:  # ours: still waiting
            return "alive"
        except Exception as exc:
            return type(exc).__name__
        finally:
            await layer.flush()
        return "message"

    core = "channels_redis.core.RedisChannelLayer"
    for host, warned in ((private_redis.url, True), (hinted, False)):
        layers = {"default": {"BACKEND": core, "CONFIG": {"hosts": [host]}}}
        with override_settings(CHANNEL_LAYERS=layers):
            assert bool(check_layers()) is warned
    default, longer = await asyncio.gather(idle(private_redis.url), idle(hinted))
    assert (default, longer) == ("TimeoutError", "alive")


async def test_recovery_reads_positions_in_a_few_round_trips(redis_hub: Any) -> None:
    """After a Redis restart a process re-forms its memberships and reads its streams'
    positions in a handful of round trips, not one per stream. The restarted server's own
    counter of socket reads tells them apart: pipelined commands arrive in few reads."""
    hub = get_hub()
    inbox = Resyncs(300)
    for i in range(300):
        await hub.join(f"many{i}", inbox)
    # A busy process: its pool holds many command connections, all dead after the restart.
    await asyncio.gather(*(hub.publish(f"many{i}", Event("msg", b"1")) for i in range(300)))
    redis_hub.kill()
    redis_hub.start()
    await asyncio.wait_for(inbox.done, TIMEOUT)  # the protocol allows 10 s
    reads = redis.Redis.from_url(redis_hub.url).info("stats")["total_reads_processed"]
    assert reads < 50  # one per stream (300) before
