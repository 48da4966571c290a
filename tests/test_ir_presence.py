"""Presence in the IR: a channel with presence names its metadata struct; the document
round-trips; removing presence is a breaking change for clients that render the roster."""

from __future__ import annotations

from dataclasses import replace

from mizan_channels.ir import build_ir, emit, parse
from mizan_channels.ir.diff import diff


def test_channels_with_presence_name_their_metadata_struct() -> None:
    doc = build_ir()
    channels = {c.name: c for c in doc.channels}
    assert channels["presence_room"].presence == "DefaultPresenceMeta"
    assert channels["presence_card"].presence == "PresenceCardPresence"
    assert channels["chat"].presence is None
    types = {t.name: t for t in doc.types}
    assert [f.name for f in types["PresenceCardPresence"].fields] == ["name", "tab"]  # type: ignore[union-attr]
    text = emit(doc)
    assert 'presence "PresenceCardPresence"' in text
    assert emit(parse(text)) == text


def test_removing_presence_is_breaking_adding_is_not() -> None:
    doc = build_ir()
    without = replace(
        doc,
        channels=tuple(
            replace(c, presence=None) if c.name == "presence_card" else c for c in doc.channels
        ),
    )
    removed = diff(doc, without)
    added = diff(without, doc)
    assert any(c.breaking and "presence" in c.what for c in removed)
    assert not any(c.breaking for c in added if "presence" in c.what)
