"""`ReactChannel`: a typed subscription. Subclassing registers it.

A subclass declares `Params` (what a subscriber sends), `DjangoMessage` (what the server
pushes), optionally `ReactMessage` with `receive()` (what subscribers may send), and the
hooks `authorize(params)` and `group(params)`. Mistakes raise ConfigurationError at class
creation. `group()`'s value is hashed into the stream name together with the channel's
name, so no choice of params can reach another channel's or a user's private stream.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from typing import Any, ClassVar

from pydantic import BaseModel, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from . import broker, presence
from .exceptions import ConfigurationError, InvalidParams, validation_details
from .hub import Event, get_hub
from .registry import registry
from .transaction import defer


def channel_name_for(cls_name: str) -> str:
    """`ChatChannel` -> `chat`; `RoomPresenceChannel` -> `room_presence`."""
    base = (
        cls_name[: -len("Channel")]
        if cls_name.endswith("Channel") and cls_name != "Channel"
        else cls_name
    )
    return re.sub(r"(?<!^)(?=[A-Z])", "_", base).lower()


def _is_model(obj: Any) -> bool:
    return inspect.isclass(obj) and issubclass(obj, BaseModel)


class ReactChannel:
    """Base class of typed channels. See the module docstring for what to declare."""

    #: Registered name; derived from the class name when not set.
    name: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]]
    DjangoMessage: ClassVar[Any]
    ReactMessage: ClassVar[type[BaseModel] | None] = None
    #: Messages kept for replay to subscribers that resume with `since` (0: none).
    history: ClassVar[int] = 0
    #: True: track who is subscribed (see mizan_channels.presence). On a subclass, replaced
    #: by the server API: `ChatChannel.presence(room=...)`, `await ChatChannel.apresence(...)`.
    presence: ClassVar[Any] = False
    apresence: ClassVar[Any] = None

    _message_adapter: ClassVar[TypeAdapter[Any]]
    _abstract: ClassVar[bool] = True

    def __init_subclass__(cls, abstract: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._abstract = abstract
        if abstract:
            return
        where = f"{cls.__module__}.{cls.__qualname__}"
        params = getattr(cls, "Params", None)
        if not _is_model(params):
            raise ConfigurationError(
                f"{where} needs a `class Params(BaseModel)` with the fields a subscriber sends "
                "(an empty model if none)."
            )
        if cls.group is ReactChannel.group:
            raise ConfigurationError(
                f"{where} needs `def group(self, params) -> str`, naming who shares messages "
                "(e.g. return f'chat_{params.room}')."
            )
        message = getattr(cls, "DjangoMessage", None)
        if message is None:
            raise ConfigurationError(
                f"{where} needs a `class DjangoMessage(BaseModel)`: the messages the server pushes."
            )
        if inspect.isclass(message) and not _is_model(message):
            raise ConfigurationError(
                f"{where}.DjangoMessage must be a Pydantic model (subclass BaseModel), "
                f"got {message!r}."
            )
        try:
            cls._message_adapter = TypeAdapter(message)
        except Exception as exc:
            raise ConfigurationError(f"{where}.DjangoMessage can't be serialized: {exc}") from None
        react = cls.ReactMessage
        if react is not None:
            if not _is_model(react):
                raise ConfigurationError(
                    f"{where}.ReactMessage must be a Pydantic model, got {react!r}."
                )
            if cls.receive is ReactChannel.receive:
                raise ConfigurationError(
                    f"{where} declares ReactMessage but no `def receive(self, params, message)` "
                    "to handle it."
                )
        if type(cls.history) is not int or cls.history < 0:
            raise ConfigurationError(f"{where}.history must be a non-negative int.")
        presence.configure(cls, where)
        name = cls.__dict__.get("name") or channel_name_for(cls.__name__)
        cls.name = name
        registry.add_channel(name, cls)

    def __init__(self, request: Any = None) -> None:
        self.request = request
        self.scope: dict[str, Any] = getattr(request, "scope", {}) or {}
        from django.contrib.auth.models import AnonymousUser  # here: importable before apps load

        self.user: Any = getattr(request, "user", None) or AnonymousUser()

    # Hooks -----------------------------------------------------------------------------

    def authorize(self, params: Any) -> bool:
        """May `self.user` subscribe with `params`? Sync or async. Default: everyone."""
        return True

    def group(self, params: Any) -> str:
        """Who shares messages: subscribers whose params give the same group."""
        raise NotImplementedError

    def receive(self, params: Any, message: Any) -> Any:
        """Handle a client `send` (only with ReactMessage). Sync or async; the return value
        is the `ok` reply's data."""
        raise NotImplementedError

    # Server API ------------------------------------------------------------------------

    @classmethod
    def parse_params(cls, params: Any) -> BaseModel:
        """Params from a subscriber or pusher. Raises InvalidParams with field details."""
        if isinstance(params, cls.Params):
            return params
        try:
            return cls.Params.model_validate(params)
        except PydanticValidationError as exc:
            raise InvalidParams(details=validation_details(exc.errors())) from None

    @classmethod
    def stream_for(cls, params: BaseModel, request: Any = None) -> str:
        """The stream of a group: channel name + digest of `group()`; never lossy, so two
        different groups can't share a stream, and any value is valid for every broker."""
        group = cls(request).group(params)
        if not isinstance(group, str):
            raise TypeError(f"{cls.__qualname__}.group() must return a str, got {group!r}")
        return cls.stream_of(group)

    @classmethod
    def stream_of(cls, group: str) -> str:
        """The stream of the group named `group` (what `group()` returned)."""
        digest = hashlib.sha256(group.encode("utf-8", "surrogatepass")).hexdigest()[:40]
        return f"ch:{cls.name}:{digest}"

    @classmethod
    def encode_message(cls, message: Any) -> bytes:
        """Validate and encode a push. Raises pydantic's ValidationError in the caller
        for a message that doesn't fit DjangoMessage; nothing is sent then."""
        adapter = cls._message_adapter
        value = adapter.validate_python(
            message.model_dump() if isinstance(message, BaseModel) else message
        )
        return adapter.dump_json(value)

    @classmethod
    def push(cls, message: Any, **params: Any) -> None:
        """Send `message` to every subscriber of the group that `params` select, from sync
        code. Inside `transaction.atomic()` it leaves on commit, never on rollback."""
        body = cls.encode_message(message)
        stream = cls.stream_for(cls.parse_params(params))
        event = Event("msg", body)
        defer(object(), lambda: broker.publish_sync(stream, event, cls.history))

    @classmethod
    async def apush(cls, message: Any, **params: Any) -> None:
        """`push` for async code."""
        body = cls.encode_message(message)
        stream = cls.stream_for(cls.parse_params(params))
        await get_hub().publish(stream, Event("msg", body), cls.history)
