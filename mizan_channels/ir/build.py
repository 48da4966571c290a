"""The registry -> an IR `Document`: functions, channels and forms with their named types.

Names are fixed before any model is walked, so the result never depends on which function
happened to mention a model first: a function's input struct is named after its registered
name (`list_rooms` -> `ListRoomsInput`), a `-> list[T]` output becomes the alias
`ListRoomsOutput`, and a channel's nested `Params` / `DjangoMessage` / `ReactMessage`
classes become `ChatParams` / `ChatMessage` / `ChatClientMessage` (and a nested
`PresenceMeta`, `ChatPresence`). Everything else keeps its
class name, and two different classes wanting one name fail the export with both paths.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar, cast

from pydantic import BaseModel

from ..client import pascal
from ..registry import FunctionSpec, Registry
from .discriminators import DiscriminatorNames
from .model import (
    Affect,
    Alias,
    AuthKind,
    Channel,
    Document,
    Form,
    Function,
    ListOf,
    NamedType,
    Ref,
    Shape,
    Struct,
    TupleOf,
    directions,
    keyword,
)
from .types import IRExportError, TypeWalker, doc_of, path_of

_HasOutput = TypeVar("_HasOutput", Function, Form)


def build_ir(registry: Registry | None = None) -> Document:
    """The IR of `registry` (default: the global one).

    Raises IRExportError (a ConfigurationError) naming the function or channel, the field
    and the type that the IR can't describe, or both import paths of a name clash.
    """
    if registry is None:
        from ..registry import registry as global_registry

        registry = global_registry
    walker = TypeWalker()
    functions = sorted(registry.functions.items())
    channels = sorted(registry.channels.items())
    for name, spec in functions:
        if spec.input_model.model_fields:
            # A form's validate and submit share one input model: name it after the form.
            walker.forced.setdefault(spec.input_model, pascal(spec.form or name) + "Input")
    for name, cls in channels:
        _reserve_channel_names(walker, name, cls)

    built_functions = tuple(
        _within(f"function {name!r} ({spec.qualname})", _function, walker, registry, name, spec)
        for name, spec in functions
    )
    built_channels = tuple(
        _within(f"channel {name!r} ({path_of(cls)})", _channel, walker, name, cls)
        for name, cls in channels
    )
    from .forms import build_form  # imports Django's forms; only when building

    built_forms = tuple(
        build_form(name, cls, walker, registry) for name, cls in sorted(registry.forms.items())
    )
    types, pynames = _settle_wire_names(
        walker.types, walker.pynames, built_functions, built_channels, built_forms
    )
    wire = DiscriminatorNames(types, pynames)
    return Document(
        types=tuple(sorted((wire.named(t) for t in types.values()), key=_decl_key)),
        functions=tuple(_with_output(f, wire) for f in built_functions),
        channels=built_channels,
        forms=tuple(_with_output(f, wire) for f in built_forms),
    )


def _decl_key(t: NamedType) -> tuple[str, str]:
    return keyword(t), t.name


def _with_output(decl: _HasOutput, wire: DiscriminatorNames) -> _HasOutput:
    return replace(decl, output=wire.shape(decl.output)) if decl.output is not None else decl


def _within(where: str, build: Callable[..., Any], *args: Any) -> Any:
    """Run one declaration's build; an error from a model deep inside names it too."""
    try:
        return build(*args)
    except IRExportError as exc:
        if where in str(exc):
            raise
        raise IRExportError(f"In {where}: {exc}") from None


def _settle_wire_names(
    types: dict[str, NamedType],
    pynames: dict[str, tuple[str, ...]],
    functions: tuple[Function, ...],
    channels: tuple[Channel, ...],
    forms: tuple[Form, ...],
) -> tuple[dict[str, NamedType], dict[str, tuple[str, ...]]]:
    """Name each struct field by the key it travels under where the struct travels: the
    validation key for types only sent to the server, the serialized key for types only
    sent by it, and both (`output-name`) only for types going both ways with two keys.
    Likewise a field the server never writes (`write-only`): left out of types only sent by
    it, marked only on types going both ways; and a type no client sends or receives once
    those are gone is left out. Returns the types and, per struct, its fields' Python names
    (for the discriminators), both as settled."""
    sent, received = directions(types, functions, channels, forms)
    out = {name: t for name, t in types.items() if name in sent or name in received}
    names = dict(pynames)
    for name, t in out.items():
        if not isinstance(t, Struct) or not any(f.output_name or f.write_only for f in t.fields):
            continue
        if name in sent and name in received:
            continue
        if name in received:  # a field the server never writes is not there at all
            kept = [
                (p, f) for p, f in zip(pynames[name], t.fields, strict=True) if not f.write_only
            ]
            names[name] = tuple(p for p, _ in kept)
            fields = tuple(
                replace(f, name=f.output_name or f.name, output_name=None) for _, f in kept
            )
        else:
            fields = tuple(replace(f, output_name=None, write_only=False) for f in t.fields)
        out[name] = replace(t, fields=fields)
    return out, names


def _reserve_channel_names(walker: TypeWalker, name: str, cls: type[Any]) -> None:
    base = pascal(name)
    for attr, suffix in (
        ("Params", "Params"),
        ("DjangoMessage", "Message"),
        ("ReactMessage", "ClientMessage"),
        ("PresenceMeta", "Presence"),
    ):
        model = getattr(cls, attr, None)
        if _nested_in(model, cls):
            walker.forced.setdefault(model, base + suffix)


def _nested_in(model: Any, cls: type[Any]) -> bool:
    """Is `model` a class written inside the body of `cls` (or of a channel it extends)?"""
    if not (inspect.isclass(model) and issubclass(model, BaseModel)):
        return False
    return any(
        model.__module__ == klass.__module__
        and model.__qualname__.startswith(klass.__qualname__ + ".")
        for klass in cls.__mro__
    )


def _function(walker: TypeWalker, registry: Registry, name: str, spec: FunctionSpec) -> Function:
    where = f"function {name!r} ({spec.qualname})"
    input_name: str | None = None
    if spec.input_model.model_fields:
        input_name = walker.struct(spec.input_model, f"the arguments of {where}")
    output: Shape | None = None
    if spec.route is None and spec.output_adapter is not None:
        output = walker.shape(spec.output, f"{where}: return type")
        if isinstance(output, ListOf | TupleOf):
            alias = pascal(name) + "Output"
            walker.claim(alias, spec, f"the return type of {where}")
            walker.types[alias] = Alias(alias, output)
            output = Ref(alias)
    affects: list[Affect] = []
    for item in spec.affects:
        if isinstance(item, str):
            affects.append(Affect("context", item))
            continue
        target = registry.name_of(item)
        if target is None:
            raise IRExportError(
                f"{where} affects {path_of(item)}, which is not registered. Register it with "
                "register() or mizan_clients(), or name a context instead."
            )
        affects.append(Affect("function", target))
    return Function(
        name=name,
        input=input_name,
        output=output,
        transport="websocket" if spec.websocket else "http",
        context=spec.context,
        affects=tuple(affects),
        auth=cast(AuthKind | None, spec.auth_kind),
        rev=spec.rev,
        route=spec.route,
        shared=spec.shared,
        form=spec.form,
        doc=doc_of(spec.fn),
    )


def _channel(walker: TypeWalker, name: str, cls: type[Any]) -> Channel:
    where = f"channel {name!r} ({path_of(cls)})"
    params = walker.struct(cls.Params, f"{where}.Params")
    message = cls.DjangoMessage
    if inspect.isclass(message) and issubclass(message, BaseModel):
        server = walker.struct(message, f"{where}.DjangoMessage")
    else:
        # Several message models: an alias to their union (discriminated when declared so).
        server = pascal(name) + "Message"
        walker.claim(server, message, f"the DjangoMessage union of {where}")
        walker.types[server] = Alias(server, walker.shape(message, f"{where}.DjangoMessage"))
    react = cls.ReactMessage
    client = walker.struct(react, f"{where}.ReactMessage") if react is not None else None
    meta = getattr(getattr(cls, "presence", None), "model", None)
    presence = walker.struct(meta, f"{where}.PresenceMeta") if meta is not None else None
    return Channel(
        name=name,
        params=params,
        server_message=server,
        client_message=client,
        history=cls.history,
        presence=presence,
        doc=doc_of(cls),
    )


__all__ = ["IRExportError", "build_ir"]
