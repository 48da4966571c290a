"""Helpers for the IR tests: a fresh registry per test, and channel declarations that leave
the global registry (which every other test and the golden files read) as they found it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from mizan_channels.ir import build_ir, emit, parse
from mizan_channels.ir.model import Document, NamedType
from mizan_channels.registry import Registry
from mizan_channels.registry import registry as global_registry


def fresh(*fns: Callable[..., Any], **named: Callable[..., Any]) -> Registry:
    """A registry holding `fns` under their Python names and `named` under the keys."""
    reg = Registry()
    for fn in fns:
        reg.add_function(fn.__mizan__, fn.__name__)  # type: ignore[attr-defined]
    for name, fn in named.items():
        reg.add_function(fn.__mizan__, name)  # type: ignore[attr-defined]
    return reg


def ir(reg: Registry) -> Document:
    """Build, and check on the way that the emitted text round-trips exactly."""
    doc = build_ir(reg)
    text = emit(doc)
    back = parse(text)
    assert back == doc
    assert emit(back) == text
    return doc


def named(doc: Document, name: str) -> NamedType:
    t = doc.type(name)
    assert t is not None, f"{name} not in {[x.name for x in doc.types]}"
    return t


@contextmanager
def scratch_channels() -> Iterator[None]:
    """`ReactChannel` subclasses register themselves globally; forget them afterwards."""
    before = dict(global_registry.channels)
    try:
        yield
    finally:
        global_registry.channels.clear()
        global_registry.channels.update(before)
