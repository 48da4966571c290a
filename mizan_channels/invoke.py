"""The one invocation path: lookup -> exposure -> auth -> validate -> run -> serialize ->
invalidate. The HTTP view and the socket consumer differ only in how a call arrives and how
its reply leaves; everything a call means is decided here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticSerializationError

from . import auth, conf
from .exceptions import (
    InvalidParams,
    MizanError,
    NotExposed,
    ServerError,
    UnknownFunction,
    validation_details,
)
from .registry import FunctionSpec, registry
from .threads import threaded

logger = logging.getLogger("mizan_channels")

Transport = Literal["http", "websocket"]
_SECRET_KEY = re.compile(r"pass|secret|token|key|auth|cred|session|cookie|otp|pin", re.I)


@dataclass(slots=True)
class Outcome:
    """A successful call: the encoded output, and what it invalidated."""

    data: bytes
    #: Invalidation keys, `{"ctx": name}` / `{"fn": name}`, in declaration order.
    inv: list[dict[str, str]] = field(default_factory=list)
    #: Per audience stream: (aud, epoch, seq, keys) as published, so the calling socket can
    #: deliver its own `inv` frames before `ok` and recognise the fanned-out copy.
    published: list[tuple[str, str, int, list[dict[str, str]]]] = field(default_factory=list)


def redact(args: dict[str, Any]) -> dict[str, Any]:
    """Call arguments safe to log: secret-looking keys are replaced, at every depth
    (objects inside lists too). Give it the JSON arguments as they came, not validated
    values: a model's repr would show its secret fields."""
    out: dict[str, Any] = {}
    for k, v in args.items():
        out[k] = "***" if _SECRET_KEY.search(str(k)) else _redact_value(v)
    return out


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return redact(value)
    if isinstance(value, list | tuple):
        return [_redact_value(v) for v in value]
    return value


def lookup(name: str, transport: Transport) -> FunctionSpec:
    """The spec callable as RPC over `transport`. Raises UnknownFunction / NotExposed."""
    spec = registry.function(name)
    if spec is None:
        raise UnknownFunction(f"No function named {name[:100]!r}.")
    if spec.route is not None:
        raise NotExposed(f"{name!r} is a view at its route, not an RPC function.")
    if transport == "websocket" and not spec.websocket:
        raise NotExposed(f"{name!r} is not exposed over the socket (websocket=True).")
    return spec


def run(spec: FunctionSpec, request: Any, kwargs: dict[str, Any]) -> Awaitable[Any]:
    """The function body to await: async on the loop, sync in a worker thread (never the
    loop). A plain function returning the awaitable: one coroutine less on every call."""
    if spec.is_async:
        return cast(Awaitable[Any], spec.fn(request, **kwargs))
    return threaded(spec.fn)(request, **kwargs)


def serialize(spec: FunctionSpec, result: Any) -> bytes:
    """Encode `result` as the declared output. A value of the wrong shape is validated
    into it when possible; otherwise it is a server error, never a half-written reply."""
    adapter = spec.output_adapter
    assert adapter is not None
    try:
        # The serializer itself: `dump_json` is a Python wrapper passing fifteen defaults.
        return adapter.serializer.to_json(result, warnings="error")
    except (PydanticSerializationError, ValueError, TypeError):
        try:
            return adapter.dump_json(adapter.validate_python(result), warnings="error")
        except (PydanticValidationError, PydanticSerializationError, ValueError, TypeError):
            logger.exception("%s returned a value that doesn't fit %r", spec.name, spec.output)
            raise ServerError() from None


def validate_args(spec: FunctionSpec, args: Any) -> dict[str, Any]:
    """Arguments as the function's parameters. Raises InvalidParams with per-field details."""
    if not isinstance(args, dict):
        raise InvalidParams("Arguments must be a JSON object.")
    try:
        model = spec.input_model.__pydantic_validator__.validate_python(args)
    except PydanticValidationError as exc:
        raise InvalidParams(details=validation_details(exc.errors())) from None
    return {name: getattr(model, name) for name in spec.params}


async def invoke(
    name: str,
    args: Any,
    request: Any,
    *,
    transport: Transport,
    spec: FunctionSpec | None = None,
) -> Outcome:
    """Call function `name` for `request`. Raises MizanError with the protocol's code for
    every failure; user exceptions are logged with their traceback and become ServerError."""
    if spec is None:
        spec = lookup(name, transport)
    if spec.auth is not None:
        await auth.check(spec.auth, request, spec.name)
    kwargs = validate_args(spec, args)
    if conf.get().LOG_ARGS:
        logger.debug("call %s %s", spec.name, redact(args))
    try:
        result = await run(spec, request, kwargs)
    except MizanError:
        raise
    except Exception:
        logger.exception("server function %s raised", spec.name)
        raise ServerError() from None
    outcome = Outcome(serialize(spec, result))
    if spec.affects:
        from . import invalidation

        outcome.inv = invalidation.keys_for(spec)
        outcome.published = await invalidation.publish_for_request(outcome.inv, request)
    return outcome
