"""One process's side of presence: batching joins and leaves per stream, the heartbeat that
keeps its members alive in Redis, and re-announcing them when Redis forgot them.

Coalescing: joins and leaves for a stream collect in a batch while the previous batch of that
stream is being written; each batch is one store step and one diff event, whatever its size.
An idle stream's batch is written at once; under a flood of joins the batches grow instead
of the events multiplying (n joins cost O(n) frames per subscriber, not one event each).
A join and a leave of the same membership in one batch cancel out. Batches of a stream are
written in order, one at a time, so the roster is always the result of every step in order.

A failed write (Redis away) is retried with backoff (at most 1 s apart), its joins and leaves
kept ahead of later ones; joiners waiting on it get the error at once (and answer from
`local`), while patient waiters (a resync's re-read) stay queued until a write succeeds. A
snapshot read by the write that found this process missing waits for the re-announcement,
so it is never an emptied roster. The heartbeat pushes this
process's deadline forward every `MIZAN_PRESENCE_HEARTBEAT` seconds and sweeps processes
whose deadline passed; if this process finds itself missing (it was swept after a stall,
or Redis restarted empty) it announces all its members again.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import secrets
import weakref
from dataclasses import dataclass, field

from .. import broker, conf
from ..exceptions import ConfigurationError
from ..hub import Hub
from .store import LOCAL_STORE, RedisStore, Snapshot

logger = logging.getLogger("mizan_channels")

Member = tuple[str, bytes]  # (key, meta JSON)


@dataclass(slots=True)
class Batch:
    joins: dict[str, Member] = field(default_factory=dict)
    leaves: dict[str, str] = field(default_factory=dict)  # ref -> key
    waiters: list[asyncio.Future[Snapshot]] = field(default_factory=list)
    #: Waiters kept across failed writes, until one succeeds.
    patient: list[asyncio.Future[Snapshot]] = field(default_factory=list)


class Tracker:
    """Presence bookkeeping of one hub (one event loop, one process)."""

    def __init__(self, hub: Hub) -> None:
        s = conf.get()
        if s.PRESENCE_TTL < 2 * s.PRESENCE_HEARTBEAT:
            raise ConfigurationError(
                f"MIZAN_PRESENCE_TTL ({s.PRESENCE_TTL}) must be at least twice "
                f"MIZAN_PRESENCE_HEARTBEAT ({s.PRESENCE_HEARTBEAT}), or live processes are "
                "swept between heartbeats; raise the TTL or shorten the heartbeat."
            )
        self.hub = hub
        self.proc = secrets.token_hex(6)
        self.counter = itertools.count(1)
        self.redis: RedisStore | None = None
        if isinstance(hub.backend, broker.RedisBackend):
            self.redis = RedisStore(hub.backend.client, self.proc, int(s.PRESENCE_TTL * 1000))
        self.heartbeat_s = s.PRESENCE_HEARTBEAT
        self.members: dict[str, dict[str, Member]] = {}  # stream -> ref -> member
        self.pending: dict[str, Batch] = {}
        self.flushers: dict[str, asyncio.Task[None]] = {}
        self.watchers = 0
        self.registered = False
        self.beat: asyncio.Task[None] | None = None
        #: Store steps written, and diff-carrying steps (for tests and benchmarks).
        self.writes = 0

    def new_ref(self) -> str:
        return f"{self.proc}.{next(self.counter):x}"

    # Membership ----------------------------------------------------------------------

    def announce(self, stream: str, ref: str, key: str, meta: bytes) -> None:
        """Add a member without waiting for the write."""
        self.members.setdefault(stream, {})[ref] = (key, meta)
        batch = self._batch(stream)
        batch.leaves.pop(ref, None)
        batch.joins[ref] = (key, meta)
        self._kick(stream)

    def leave(self, stream: str, ref: str, key: str) -> None:
        members = self.members.get(stream)
        if members is not None:
            members.pop(ref, None)
            if not members:
                del self.members[stream]
        batch = self._batch(stream)
        batch.joins.pop(ref, None)
        batch.leaves[ref] = key  # also when the join was never written: deleting is idempotent
        self._kick(stream)

    async def snapshot(self, stream: str, *, patient: bool = False) -> Snapshot:
        """The roster and its position, read in the next write of the stream's batches, so
        it is ordered after every join and leave made before this call. Raises what the
        write raised (Redis unreachable), unless `patient`: then it waits for Redis."""
        fut: asyncio.Future[Snapshot] = asyncio.get_running_loop().create_future()
        batch = self._batch(stream)
        (batch.patient if patient else batch.waiters).append(fut)
        self._kick(stream)
        return await fut

    def local(self, stream: str) -> Snapshot:
        """This process's own members of `stream`, at no known position: what it can say
        while Redis is unreachable."""
        return Snapshot("", 0, dict(self.members.get(stream, {})))

    def watch(self, delta: int) -> None:
        """A subscriber started (+1) or stopped (-1) watching a roster here."""
        self.watchers += delta
        self._ensure_heartbeat()

    # Writing -------------------------------------------------------------------------

    def _batch(self, stream: str) -> Batch:
        batch = self.pending.get(stream)
        if batch is None:
            batch = self.pending[stream] = Batch()
        return batch

    def _kick(self, stream: str) -> None:
        self._ensure_heartbeat()
        if stream not in self.flushers:
            self.flushers[stream] = self.hub.loop.create_task(
                self._flush(stream),
                name=f"mizan-presence-{stream[:40]}",
                context=contextvars.Context(),  # not the context of whichever socket kicked it
            )

    async def _write(self, stream: str, batch: Batch) -> tuple[Snapshot | None, bool]:
        """Write a batch; returns its snapshot (when awaited) and whether this process's
        members were just announced again (the snapshot predates them)."""
        want = bool(batch.waiters or batch.patient)
        self.writes += 1
        if self.redis is None:
            return LOCAL_STORE.apply(stream, batch.joins, batch.leaves, want), False
        snapshot, missing = await self.redis.apply(stream, batch.joins, batch.leaves, want)
        return snapshot, self._registered(missing)

    async def _flush(self, stream: str) -> None:
        backoff = 0.05
        try:
            while (batch := self.pending.pop(stream, None)) is not None:
                try:
                    snapshot, reannounced = await self._write(stream, batch)
                except Exception as exc:
                    log = logger.warning if backoff == 0.05 else logger.info  # once per outage
                    log("presence write for %s failed (%s); retrying", stream, exc)
                    for fut in batch.waiters:
                        if not fut.done():
                            fut.set_exception(exc)
                    self._requeue(stream, batch)
                    await asyncio.sleep(backoff)  # backoff before retrying a failed write
                    backoff = min(backoff * 2, 1.0)
                    continue
                backoff = 0.05
                if reannounced and stream in self.members:
                    # Read before this process's members were back: read again after them.
                    later = self._batch(stream)
                    later.waiters += batch.waiters
                    later.patient += batch.patient
                    continue
                for fut in [*batch.waiters, *batch.patient]:
                    if not fut.done():
                        assert snapshot is not None
                        fut.set_result(snapshot)
        finally:
            self.flushers.pop(stream, None)

    def _requeue(self, stream: str, failed: Batch) -> None:
        """Put a failed batch's changes ahead of what came since (later changes win)."""
        later = self.pending.pop(stream, None) or Batch()
        merged = Batch(waiters=later.waiters, patient=failed.patient + later.patient)
        merged.joins = {r: m for r, m in failed.joins.items() if r not in later.leaves}
        merged.joins.update(later.joins)
        merged.leaves = {r: k for r, k in failed.leaves.items() if r not in later.joins}
        merged.leaves.update(later.leaves)
        if merged.joins or merged.leaves or merged.waiters or merged.patient:
            self.pending[stream] = merged

    # Liveness (Redis) ----------------------------------------------------------------

    def _registered(self, missing: bool) -> bool:
        """Note a write or heartbeat; True when it found this process missing and its
        members were announced again."""
        reassert = missing and self.registered
        if reassert:
            logger.warning("presence: this process was missing from Redis; re-announcing")
            self._reassert()
        self.registered = True
        return reassert

    def _reassert(self) -> None:
        for stream, members in list(self.members.items()):
            for ref, (key, meta) in list(members.items()):
                self.announce(stream, ref, key, meta)

    def _ensure_heartbeat(self) -> None:
        if self.redis is None or (self.beat is not None and not self.beat.done()):
            return
        if self.members or self.watchers > 0:
            self.beat = self.hub.loop.create_task(
                self._heartbeat(), name="mizan-presence-heartbeat", context=contextvars.Context()
            )

    async def _heartbeat(self) -> None:
        assert self.redis is not None
        while self.members or self.watchers > 0:
            await asyncio.sleep(self.heartbeat_s)  # a periodic timer: the heartbeat itself
            try:
                missing, swept = await self.redis.heartbeat()
            except Exception as exc:
                logger.warning("presence heartbeat failed: %s", exc)
                continue
            if swept:
                logger.info("presence: swept %d dead process(es)", swept)
            self._registered(missing)

    async def close(self) -> None:
        """Stop the heartbeat and wait for pending writes (tests, shutdown)."""
        if self.beat is not None:
            self.beat.cancel()
        for task in [*self.flushers.values(), *([self.beat] if self.beat else [])]:
            with contextlib.suppress(asyncio.CancelledError):
                await task


_trackers: weakref.WeakKeyDictionary[Hub, Tracker] = weakref.WeakKeyDictionary()


def tracker_for(hub: Hub) -> Tracker:
    tracker = _trackers.get(hub)
    if tracker is None:
        tracker = _trackers[hub] = Tracker(hub)
    return tracker
