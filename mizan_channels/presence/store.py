"""Where rosters live, and the one atomic step that changes a roster and publishes the diff.

A roster is a map `ref -> (key, meta)`: `ref` names one connection's membership, `key` the
user it counts for, `meta` that connection's metadata as JSON. Changing it and assigning the
diff its stream position happen in one step, under one lock (in-process) or in one Lua
script (Redis), so a snapshot taken at position N is exactly the roster the events up to N
describe: a subscriber can take a snapshot and apply every later diff without ever being
wrong in between.

- `LocalStore`: one process; positions from the in-process broker.
- `RedisStore`: many processes. Per stream a hash `mizan:pr:<stream>` (ref -> member); per
  process a deadline in the sorted set `mizan:prz`, pushed forward by every batch and every
  heartbeat; per process the set of streams it has members in. A process whose deadline has
  passed is dead: its members are hidden from snapshots at once and removed (with a leave
  diff) by the next heartbeat of any live process. Scripts touch keys they compute, so this
  needs one Redis (not Cluster), like the rest of the broker.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from .. import broker, protocol
from ..hub import Event

KIND = "pres"
PROCS_KEY = broker.KEY_PREFIX + "prz"


def roster_key(stream: str) -> str:
    return broker.KEY_PREFIX + "pr:" + stream


def proc_streams_key(proc: str) -> str:
    return broker.KEY_PREFIX + "prs:" + proc


def pack(key: str, meta: bytes) -> bytes:
    """A member as stored: `<len(key)>:<key><meta>`; parseable in Lua without a JSON decoder."""
    raw = key.encode()
    return b"%d:" % len(raw) + raw + meta


#: ref -> (key, meta): meta as JSON bytes (written here) or decoded (read from Redis).
Members = dict[str, tuple[str, Any]]


def meta_value(meta: Any) -> Any:
    """A member's metadata, ready for `protocol.dumps`."""
    return protocol.Fragment(meta) if isinstance(meta, bytes) else meta


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A roster and the stream position it is exact at."""

    epoch: str
    seq: int
    members: Members

    def state(self) -> dict[str, dict[str, Any]]:
        """The wire form: key -> {ref: meta}."""
        out: dict[str, dict[str, Any]] = {}
        for ref in sorted(self.members):
            key, meta = self.members[ref]
            out.setdefault(key, {})[ref] = meta_value(meta)
        return out


def _joins(joins: dict[str, tuple[str, bytes]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for ref, (key, meta) in joins.items():
        out.setdefault(key, {})[ref] = protocol.Fragment(meta)
    return out


def diff_body(joins: dict[str, tuple[str, bytes]], leaves: dict[str, list[str]]) -> bytes:
    """`{"joins": {key: {ref: meta}}, "leaves": {key: [ref]}}`, encoded once per batch."""
    return protocol.dumps({"joins": _joins(joins), "leaves": leaves})


class LocalStore:
    """Rosters of one process, shared by every event loop in it (like the local broker)."""

    def __init__(self) -> None:
        self.rosters: dict[str, dict[str, tuple[str, bytes]]] = {}
        self.lock = threading.Lock()

    def apply(
        self,
        stream: str,
        joins: dict[str, tuple[str, bytes]],
        leaves: dict[str, str],
        want: bool,
    ) -> Snapshot | None:
        # Lock order: this lock, then the broker's; pushes take only the broker's.
        with self.lock:
            roster = self.rosters.setdefault(stream, {})
            roster.update(joins)
            removed: dict[str, list[str]] = {}
            for ref, key in leaves.items():
                if roster.pop(ref, None) is not None:
                    removed.setdefault(key, []).append(ref)
            if joins or removed:
                epoch, seq = broker.LOCAL.publish_sync(
                    stream, Event(KIND, diff_body(joins, removed))
                )
            else:
                with broker.LOCAL.lock:
                    epoch, seq = broker.LOCAL.epoch, broker.LOCAL.seqs.get(stream, 0)
            snapshot = Snapshot(epoch, seq, dict(roster)) if want else None
            if not roster:
                del self.rosters[stream]
            return snapshot

    def read(self, stream: str) -> Members:
        with self.lock:
            return dict(self.rosters.get(stream, {}))


LOCAL_STORE = LocalStore()

# Shared Lua: the current time in ms (Redis's clock, so process clocks never matter), a
# filter that hides members of dead processes, and publishing one diff on a stream.
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local alive_cache = {}
local function alive(ref)
  local p = string.match(ref, '^([^.]+)%.')
  if not p then return false end
  local a = alive_cache[p]
  if a == nil then
    local d = redis.call('ZSCORE', KEYS[3], p)
    a = d ~= false and d ~= nil and tonumber(d) >= now
    alive_cache[p] = a
  end
  return a
end
local function split(v)
  local colon = string.find(v, ':', 1, true)
  local n = tonumber(string.sub(v, 1, colon - 1))
  return string.sub(v, colon + 1, colon + n), string.sub(v, colon + n + 1)
end
-- The live roster as one JSON text {ref: [key, meta]}: one reply to parse, not 2n.
local function live_roster(key)
  local all = redis.call('HGETALL', key)
  local out = {}
  for i = 1, #all, 2 do
    if alive(all[i]) then
      local k, meta = split(all[i + 1])
      -- refs are ours (hex '.' hex): no escaping needed; keys may hold anything
      out[#out + 1] = '"' .. all[i] .. '":[' .. cjson.encode(k) .. ',' .. meta .. ']'
    end
  end
  return '{' .. table.concat(out, ',') .. '}'
end
local function position(pkey, new_epoch)
  local e = redis.call('HGET', pkey, 'epoch')
  if not e then
    e = new_epoch
    redis.call('HSET', pkey, 'epoch', e, 'seq', 0)
  end
  return e
end
"""

#: KEYS: position, roster, procs, this process's streams.
#: ARGV: new epoch, channel, position ttl, proc, presence ttl ms, stream, joins JSON, want,
#: n joins, (ref, packed)*, n leaves, (ref, key)*.
APPLY_LUA = (
    _PRELUDE
    + """
local added = redis.call('ZADD', KEYS[3], now + tonumber(ARGV[5]), ARGV[4])
redis.call('SADD', KEYS[4], ARGV[6])
redis.call('EXPIRE', KEYS[4], ARGV[3])
local i = 10
local nj = tonumber(ARGV[9])
for _ = 1, nj do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
local nl = tonumber(ARGV[i])
i = i + 1
local leaves = {}
local left = false
for _ = 1, nl do
  if redis.call('HDEL', KEYS[2], ARGV[i]) == 1 then
    local k = ARGV[i + 1]
    if not leaves[k] then leaves[k] = {} end
    table.insert(leaves[k], ARGV[i])
    left = true
  end
  i = i + 2
end
local e = position(KEYS[1], ARGV[1])
local s
if nj > 0 or left then
  s = redis.call('HINCRBY', KEYS[1], 'seq', 1)
  local body = '{"joins":' .. ARGV[7] .. ',"leaves":' .. cjson.encode(leaves) .. '}'
  redis.call('PUBLISH', ARGV[2], e .. '|' .. s .. '|pres||' .. body)
else
  s = tonumber(redis.call('HGET', KEYS[1], 'seq'))
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
if nj > 0 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if ARGV[8] == '1' then
  return {e, s, added, live_roster(KEYS[2])}
end
return {e, s, added}
"""
)

#: KEYS: (unused), roster, procs.  ARGV: none.
READ_LUA = _PRELUDE + "\nreturn live_roster(KEYS[2])\n"

#: KEYS: (unused), (unused), procs.
#: ARGV: proc, presence ttl ms, key prefix, position ttl, new epoch.
#: Pushes this process's deadline forward, then removes the members of up to 16 dead
#: processes, publishing one leave diff per stream they were in.
HEARTBEAT_LUA = (
    _PRELUDE
    + """
local added = redis.call('ZADD', KEYS[3], now + tonumber(ARGV[2]), ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - 1, 'LIMIT', 0, 16)
local pre = ARGV[3]
for _, d in ipairs(dead) do
  local skey = pre .. 'prs:' .. d
  local pfx = d .. '.'
  for _, stream in ipairs(redis.call('SMEMBERS', skey)) do
    local rkey = pre .. 'pr:' .. stream
    local all = redis.call('HGETALL', rkey)
    local leaves = {}
    local left = false
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, #pfx) == pfx then
        redis.call('HDEL', rkey, all[i])
        local k = split(all[i + 1])
        if not leaves[k] then leaves[k] = {} end
        table.insert(leaves[k], all[i])
        left = true
      end
    end
    if left then
      local pkey = pre .. 'p:' .. stream
      local e = position(pkey, ARGV[5])
      local s = redis.call('HINCRBY', pkey, 'seq', 1)
      redis.call('EXPIRE', pkey, ARGV[4])
      local body = '{"joins":{},"leaves":' .. cjson.encode(leaves) .. '}'
      redis.call('PUBLISH', pre .. 'c:' .. stream, e .. '|' .. s .. '|pres||' .. body)
    end
  end
  redis.call('DEL', skey)
  redis.call('ZREM', KEYS[3], d)
end
return {added, #dead}
"""
)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _members(text: bytes) -> Members:
    return {ref: (kv[0], kv[1]) for ref, kv in protocol.loads(text).items()}


def apply_args(
    stream: str,
    proc: str,
    ttl_ms: int,
    joins: dict[str, tuple[str, bytes]],
    leaves: dict[str, str],
    want: bool,
) -> tuple[list[str], list[Any]]:
    keys = [
        broker.RedisBackend.key(stream),
        roster_key(stream),
        PROCS_KEY,
        proc_streams_key(proc),
    ]
    args: list[Any] = [
        broker.new_epoch(),
        broker.RedisBackend.channel(stream),
        broker.POSITION_TTL,
        proc,
        ttl_ms,
        stream,
        protocol.dumps(_joins(joins)),
        "1" if want else "0",
        len(joins),
    ]
    for ref, (key, meta) in joins.items():
        args += [ref, pack(key, meta)]
    args.append(len(leaves))
    for ref, key in leaves.items():
        args += [ref, key]
    return keys, args


class RedisStore:
    """Rosters in Redis, through one event loop's async client."""

    def __init__(self, client: Any, proc: str, ttl_ms: int) -> None:
        self.client = client
        self.proc = proc
        self.ttl_ms = ttl_ms
        self.apply_script = client.register_script(APPLY_LUA)
        self.read_script = client.register_script(READ_LUA)
        self.heartbeat_script = client.register_script(HEARTBEAT_LUA)

    async def apply(
        self,
        stream: str,
        joins: dict[str, tuple[str, bytes]],
        leaves: dict[str, str],
        want: bool,
    ) -> tuple[Snapshot | None, bool]:
        """Apply a batch; returns the snapshot (when `want`) and whether this process was
        missing from the live set (swept as dead, or Redis lost its data)."""
        keys, args = apply_args(stream, self.proc, self.ttl_ms, joins, leaves, want)
        out = await self.apply_script(keys=keys, args=args)
        snapshot = Snapshot(_text(out[0]), int(out[1]), _members(out[3])) if want else None
        return snapshot, int(out[2]) == 1

    async def heartbeat(self) -> tuple[bool, int]:
        """(was this process missing, how many dead processes were swept)."""
        out = await self.heartbeat_script(
            keys=["", "", PROCS_KEY],
            args=[
                self.proc,
                self.ttl_ms,
                broker.KEY_PREFIX,
                broker.POSITION_TTL,
                broker.new_epoch(),
            ],
        )
        return int(out[0]) == 1, int(out[1])

    async def read(self, stream: str) -> Members:
        out = await self.read_script(keys=["", roster_key(stream), PROCS_KEY])
        return _members(out)


def read_sync(stream: str) -> Members:
    """The live roster of `stream`, from synchronous code."""
    url = broker.redis_url()
    if not url:
        return LOCAL_STORE.read(stream)
    out = broker.sync_script(url, READ_LUA)(keys=["", roster_key(stream), PROCS_KEY])
    return _members(out)
