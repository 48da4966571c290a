"""Presence: who is subscribed to a channel's group, across processes, with join/leave diffs.

A channel opts in with `presence = True` (each connection's metadata is then its user's `id`
and `username`) or with a hook typed by a model declared on the class:

    class ChatChannel(ReactChannel):
        class PresenceMeta(BaseModel):
            name: str
            avatar: str

        def presence_meta(self) -> PresenceMeta | None:   # None: this connection is invisible
            return self.PresenceMeta(name=self.user.first_name, avatar=...)

Members are keyed by user (the user's pk; anonymous visitors by a digest of their session),
so a user's tabs and devices count once; each connection keeps its own metadata, and a user
leaves when its last connection does. Subscribers get the roster in the `ok` of `sub`, then
`presence` frames with diffs (docs/presence.md, docs/protocol.md). Server code reads the
roster with `ChatChannel.presence(room=...)` or `await ChatChannel.apresence(room=...)`.

This module turns the declaration into a `PresenceSpec` at class creation (mistakes raise
ConfigurationError there) and holds the two server-API callables; `store`, `tracker` and
`conn` do the rest.
"""

from __future__ import annotations

import inspect
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.crypto import salted_hmac
from pydantic import BaseModel

from ..exceptions import ConfigurationError
from ..protocol import apply_diff
from ..threads import call_hook
from .store import read_sync

if TYPE_CHECKING:
    from ..channels import ReactChannel

#: Largest metadata of one connection, encoded: a roster is sent whole to every joiner.
MAX_META_BYTES = 4096

Roster = dict[str, list[BaseModel]]


class DefaultPresenceMeta(BaseModel):
    """What `presence = True` shows of a connection."""

    id: str
    username: str


@dataclass(frozen=True, slots=True)
class PresenceSpec:
    model: type[BaseModel]
    #: The channel's `presence_meta`, or None for the default (id and username).
    hook: Any
    takes_params: bool


class PresenceAPI:
    """`Channel.presence`: true when the channel has presence; call it for the roster:
    `ChatChannel.presence(room="lobby")` -> `{user_key: [meta of each connection]}`."""

    def __init__(self, channel: type[ReactChannel], spec: PresenceSpec | None) -> None:
        self.channel = channel
        self.spec = spec

    def __bool__(self) -> bool:
        return self.spec is not None

    def __repr__(self) -> str:
        state = "on" if self.spec else "off"
        return f"<presence of {self.channel.__qualname__}: {state}>"

    @property
    def model(self) -> type[BaseModel] | None:
        """The metadata model (for the IR and generated clients), or None without presence."""
        return self.spec.model if self.spec else None

    def stream(self, params: dict[str, Any]) -> str:
        if self.spec is None:
            raise ConfigurationError(
                f"{self.channel.__qualname__} has no presence; set `presence = True` on the "
                "class (or declare PresenceMeta and presence_meta) to track who is subscribed."
            )
        return self.channel.stream_for(self.channel.parse_params(params))

    def decode(self, members: dict[str, tuple[str, Any]]) -> Roster:
        assert self.spec is not None
        model = self.spec.model
        out: Roster = {}
        for ref in sorted(members):
            key, meta = members[ref]
            if isinstance(meta, bytes):
                value = model.model_validate_json(meta)
            else:
                value = model.model_validate(meta)
            out.setdefault(key, []).append(value)
        return dict(sorted(out.items()))

    def __call__(self, **params: Any) -> Roster:
        """The members of the group `params` select, from sync code. Raises InvalidParams
        for bad params, ConfigurationError if the channel has no presence."""
        return self.decode(read_sync(self.stream(params)))


class AsyncPresenceAPI(PresenceAPI):
    """`Channel.apresence`: `await ChatChannel.apresence(room="lobby")`."""

    async def __call__(self, **params: Any) -> Roster:  # type: ignore[override]
        from ..hub import get_hub
        from .store import LOCAL_STORE
        from .tracker import tracker_for

        stream = self.stream(params)
        tracker = tracker_for(get_hub())
        if tracker.redis is None:
            return self.decode(LOCAL_STORE.read(stream))
        return self.decode(await tracker.redis.read(stream))


def configure(cls: type[ReactChannel], where: str) -> None:
    """Read the presence declaration of a channel class; raise ConfigurationError with the
    fix for a wrong one. Sets `cls.presence` and `cls.apresence`."""
    spec = _spec(cls, where)
    cls.presence = PresenceAPI(cls, spec)
    cls.apresence = AsyncPresenceAPI(cls, spec)


def _spec(cls: type[ReactChannel], where: str) -> PresenceSpec | None:
    declared = cls.__dict__.get("presence", None)
    if declared is not None and not isinstance(declared, bool | PresenceAPI):
        raise ConfigurationError(
            f"{where}.presence must be True or False, got {declared!r}; to show more than "
            "id and username, declare `class PresenceMeta(BaseModel)` and `presence_meta`."
        )
    hook = getattr(cls, "presence_meta", None)
    model = getattr(cls, "PresenceMeta", None)
    if declared is False and (hook is not None or model is not None):
        raise ConfigurationError(
            f"{where} sets presence = False but declares PresenceMeta or presence_meta; "
            "remove them, or set presence = True."
        )
    enabled = bool(getattr(cls, "presence", False)) or hook is not None or model is not None
    if not enabled:
        return None
    if model is not None and not (inspect.isclass(model) and issubclass(model, BaseModel)):
        raise ConfigurationError(
            f"{where}.PresenceMeta must be a Pydantic model (subclass BaseModel), got {model!r}."
        )
    if hook is None:
        if model is not None:
            raise ConfigurationError(
                f"{where} declares PresenceMeta but no `def presence_meta(self) -> PresenceMeta` "
                "returning this connection's metadata (from self.user); add it, or remove "
                "PresenceMeta to show id and username."
            )
        return PresenceSpec(DefaultPresenceMeta, None, False)
    takes_params = _hook_arity(hook, where)
    if model is None:
        model = _returned_model(hook)
        if model is None:
            raise ConfigurationError(
                f"{where}.presence_meta needs a metadata model: declare "
                "`class PresenceMeta(BaseModel)` on the channel and return it from the hook."
            )
    try:
        model.model_json_schema()
    except Exception as exc:
        raise ConfigurationError(
            f"{where}.PresenceMeta can't be described as JSON ({exc}); use JSON-friendly fields."
        ) from None
    return PresenceSpec(model, hook, takes_params)


def _hook_arity(hook: Any, where: str) -> bool:
    """True if the hook takes `params` after self."""
    if not callable(hook):
        raise ConfigurationError(f"{where}.presence_meta must be a method, got {hook!r}.")
    names = [
        p.name
        for p in inspect.signature(hook).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(names) in (1, 2):
        return len(names) == 2
    raise ConfigurationError(
        f"{where}.presence_meta must be `def presence_meta(self)` (or `(self, params)`), "
        f"got parameters {names}."
    )


def _returned_model(hook: Any) -> type[BaseModel] | None:
    try:
        hint = typing.get_type_hints(hook).get("return")
    except Exception:
        return None
    for candidate in (hint, *typing.get_args(hint)):
        if inspect.isclass(candidate) and issubclass(candidate, BaseModel):
            return candidate
    return None


# Identifying a connection --------------------------------------------------------------


def member_key(user: Any, request: Any, conn: str) -> str:
    """The user a connection counts for: its pk; an anonymous visitor's session (a keyed
    digest: session keys are credentials), or the connection itself without a session."""
    if user is not None and getattr(user, "is_authenticated", False):
        return str(user.pk)
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        return (
            "anon:"
            + salted_hmac("mizan.presence", session_key, algorithm="sha256").hexdigest()[:16]
        )
    return "anon:" + conn


async def identify(
    spec: PresenceSpec, instance: Any, params: BaseModel, conn: str
) -> tuple[str, bytes] | None:
    """(key, metadata JSON) of a connection, or None when its hook hides it. Raises
    ValueError (naming the channel and the fix) for metadata that doesn't fit the model."""
    user = instance.user
    if spec.hook is None:
        authed = bool(getattr(user, "is_authenticated", False))
        value: Any = DefaultPresenceMeta(
            id=str(user.pk) if authed else "", username=user.get_username() if authed else ""
        )
    else:
        hook = instance.presence_meta
        args = (params,) if spec.takes_params else ()
        value = await call_hook(hook, *args)
    if value is None:
        return None
    model = spec.model
    name = type(instance).__qualname__
    try:
        if not isinstance(value, model):
            value = model.model_validate(
                value.model_dump() if isinstance(value, BaseModel) else value
            )
    except Exception as exc:
        raise ValueError(
            f"{name}.presence_meta returned {type(value).__name__}, which doesn't fit "
            f"{model.__name__}: {exc}; return a {model.__name__} (or None to hide)."
        ) from None
    meta = value.model_dump_json().encode()
    if len(meta) > MAX_META_BYTES:
        raise ValueError(
            f"{name}.presence_meta returned {len(meta)} bytes of metadata, over "
            f"{MAX_META_BYTES}; keep it to names and URLs and fetch the rest on demand."
        )
    return member_key(user, getattr(instance, "request", None), conn), meta


__all__ = [
    "MAX_META_BYTES",
    "AsyncPresenceAPI",
    "DefaultPresenceMeta",
    "PresenceAPI",
    "PresenceSpec",
    "Roster",
    "apply_diff",
    "configure",
    "identify",
    "member_key",
]
