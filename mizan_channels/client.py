"""`@client`: a Python function's signature and flags become a `FunctionSpec`.

Every mistake a declaration can hold (an unknown flag, a bad value, a parameter without an
annotation, a missing return annotation) raises `ConfigurationError` here, at import time,
naming the function and what to write instead. The decorated function is returned unchanged
(still callable from Python) with its spec attached as `__mizan__`.
"""

from __future__ import annotations

import difflib
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any, TypeVar, overload

from pydantic import ConfigDict, TypeAdapter, create_model
from pydantic.errors import PydanticSchemaGenerationError

from .exceptions import ConfigurationError
from .registry import Affect, AuthRule, FunctionSpec, location_of

F = TypeVar("F", bound=Callable[..., Any])

FLAGS = ("context", "affects", "websocket", "auth", "route", "rev", "shared")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$")


def pascal(name: str) -> str:
    """`list_rooms` -> `ListRooms`: how generated type names are formed."""
    return "".join(p[:1].upper() + p[1:] for p in re.split(r"[^A-Za-z0-9]+", name) if p)


@overload
def client(fn: F, /) -> F: ...
@overload
def client(fn: None = None, /, **flags: Any) -> Callable[[F], F]: ...


def client(fn: F | None = None, /, **flags: Any) -> F | Callable[[F], F]:
    """Declare a server function. Bare (`@client`) or with flags:

    context="global" | name    a context function (no arguments beyond `request`)
    affects=ctx | fn | [...]   a mutation: invalidates these keys after it succeeds
    websocket=True             also callable over the socket
    auth=True | "staff" | "superuser" | callable(request)
    route="/path/<int:id>/"    a view-path function returning an HttpResponse
    rev=2                      cache revision; bumping it retires cached results
    shared=True                its invalidations reach every connected socket

    Raises ConfigurationError for any flag, value or annotation that can't work.
    """
    unknown = [k for k in flags if k not in FLAGS]
    if unknown:
        bad = unknown[0]
        hint = difflib.get_close_matches(bad, FLAGS, n=1)
        where = f" on {_describe(fn)}" if fn is not None else ""
        raise ConfigurationError(
            f"@client got an unknown flag {bad!r}{where}."
            + (f" Did you mean {hint[0]!r}?" if hint else "")
            + f" Known flags: {', '.join(FLAGS)}."
        )

    def decorate(func: F) -> F:
        spec = build_spec(func, **flags)
        func.__mizan__ = spec  # type: ignore[attr-defined]
        return func

    if fn is not None:
        if not callable(fn):
            raise ConfigurationError(
                f"@client takes flags as keywords, e.g. @client(context={fn!r}), "
                f"not a positional {type(fn).__name__}."
            )
        return decorate(fn)
    return decorate


def _describe(fn: Any) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)!s}"


def _normalize_auth(value: Any, where: str) -> AuthRule:
    if value is None or value is False:
        return None
    if value is True or value == "user":
        return "user"
    if value in ("staff", "superuser"):
        return typing.cast(AuthRule, value)
    if callable(value):
        return typing.cast(AuthRule, value)
    raise ConfigurationError(
        f"{where}: auth={value!r} is not a rule. Write auth=True (logged in), auth='staff', "
        "auth='superuser', or auth=<callable taking the request and returning a bool>."
    )


def _return_hint(route: str | None) -> str:
    """A route function is a view: suggesting a data model there would mislead."""
    if route is not None:
        return (
            "A route function returns a response: annotate it `-> HttpResponse` (from django.http)."
        )
    return "Annotate it, e.g. `-> MyOutput`, `-> list[Item]` or `-> None`."


def _normalize_affects(value: Any, where: str) -> tuple[Affect, ...]:
    if value is None:
        return ()
    items = list(value) if isinstance(value, list | tuple) else [value]
    out: list[Affect] = []
    for item in items:
        if isinstance(item, str):
            if not _IDENT.match(item):
                raise ConfigurationError(
                    f"{where}: affects={item!r} is not a context name (letters, digits, _ . -)."
                )
            out.append(item)
        elif callable(item) and hasattr(item, "__mizan__"):
            out.append(item)
        elif callable(item):
            raise ConfigurationError(
                f"{where}: affects={_describe(item)} is not an @client function. "
                "Decorate it with @client first (and register it), or name a context as a string."
            )
        else:
            raise ConfigurationError(
                f"{where}: affects={item!r} must be a context name, an @client function, "
                "or a list of them."
            )
    return tuple(out)


def build_spec(func: Callable[..., Any], **flags: Any) -> FunctionSpec:
    """Introspect `func` into a spec. Raises ConfigurationError naming what to fix."""
    where = f"@client on {_describe(func)}"
    if not callable(func) or not hasattr(func, "__code__"):
        raise ConfigurationError(f"{where}: @client decorates plain functions (def/async def).")

    context = flags.get("context")
    if context is not None and (not isinstance(context, str) or not _IDENT.match(context)):
        raise ConfigurationError(
            f"{where}: context={context!r} must be a name such as 'global' or 'user'."
        )
    websocket = flags.get("websocket", False)
    shared = flags.get("shared", False)
    for flag, val in (("websocket", websocket), ("shared", shared)):
        if not isinstance(val, bool):
            raise ConfigurationError(f"{where}: {flag}= takes True or False, got {val!r}.")
    rev = flags.get("rev", 1)
    if type(rev) is not int or rev < 1:
        raise ConfigurationError(f"{where}: rev= takes a positive integer, got {rev!r}.")
    route = flags.get("route")
    if route is not None and (not isinstance(route, str) or not route.startswith("/")):
        raise ConfigurationError(
            f"{where}: route={route!r} must be a URL path starting with '/', "
            "e.g. route='/profile/<int:id>/'."
        )
    auth = _normalize_auth(flags.get("auth"), where)
    affects = _normalize_affects(flags.get("affects"), where)
    if route is not None and (context or websocket or affects):
        raise ConfigurationError(
            f"{where}: a route= function is a view; it can't also take context=, websocket= "
            "or affects=."
        )

    sig = inspect.signature(func)
    params = list(sig.parameters.values())
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise ConfigurationError(
            f"{where}: the first parameter must be the request, e.g. `def {func.__name__}"
            "(request, ...)`."
        )
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except NameError as exc:
        raise ConfigurationError(
            f"{where}: an annotation can't be resolved ({exc}). Define or import the type "
            "before the function."
        ) from None

    fields: dict[str, Any] = {}
    names: list[str] = []
    for p in params[1:]:
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ConfigurationError(
                f"{where}: parameter {p.name!r} is *args/**kwargs; declare each argument "
                "by name with a type annotation."
            )
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ConfigurationError(
                f"{where}: parameter {p.name!r} is positional-only; arguments arrive by name."
            )
        if p.name not in hints:
            raise ConfigurationError(
                f"{where}: parameter {p.name!r} has no type annotation. Write e.g. "
                f"`{p.name}: str` so it can be validated."
            )
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints[p.name], default)
        names.append(p.name)

    if context is not None and names:
        raise ConfigurationError(
            f"{where}: context functions take only the request (they are fetched together, "
            f"without arguments); remove {', '.join(map(repr, names))} or drop context=."
        )
    if "return" not in hints:
        raise ConfigurationError(f"{where}: the return type is missing. {_return_hint(route)}")
    output = hints["return"]

    base = pascal(func.__name__)
    try:
        input_model = create_model(  # type: ignore[call-overload]
            f"{base}Input",
            __config__=ConfigDict(extra="forbid"),
            __module__=func.__module__,
            **fields,
        )
    except (PydanticSchemaGenerationError, TypeError) as exc:
        raise ConfigurationError(
            f"{where}: an argument type can't be validated: {exc}. Use Pydantic-supported "
            "types (models, primitives, list/dict/Optional, Literal, Enum)."
        ) from None

    from django.http import HttpResponseBase  # here, so importing this module loads no Django

    adapter: TypeAdapter[Any] | None
    is_view = inspect.isclass(output) and issubclass(output, HttpResponseBase)
    if route is not None:
        adapter = None
    elif is_view:
        raise ConfigurationError(
            f"{where}: returns an HttpResponse; that's a view. Add route='/path/' or return data."
        )
    else:
        try:
            adapter = TypeAdapter(output)
        except (PydanticSchemaGenerationError, TypeError) as exc:
            raise ConfigurationError(
                f"{where}: the return type {output!r} can't be serialized: {exc}."
            ) from None

    return FunctionSpec(
        fn=func,
        qualname=_describe(func),
        location=location_of(func),
        is_async=inspect.iscoroutinefunction(func),
        input_model=input_model,
        params=tuple(names),
        output=output,
        output_adapter=adapter,
        context=context,
        affects=affects,
        websocket=websocket,
        auth=auth,
        route=route,
        rev=rev,
        shared=shared,
        name=func.__name__,
    )
