"""`python -m mizan_channels.ir diff OLD NEW`: every change listed, breaking ones fail CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from mizan_channels.ir import parse
from mizan_channels.ir.__main__ import main
from mizan_channels.ir.diff import diff

BASE = """mizan version=1
channel "chat" {
    params "ChatParams"
    server-message "Msg"
}
enum "Mood" "happy" "sad"
function "echo" {
    input "EchoInput"
    output { ref "Msg"; }
    transport "websocket"
}
function "me" {
    output { optional { ref "Msg"; }; }
    transport "http"
    context "global"
    auth "user"
}
struct "ChatParams" {
    field "room" { primitive "str" max-length=40; }
}
struct "EchoInput" {
    field "text" { primitive "str" max-length=100; }
    field "mood" default="happy" { ref "Mood"; }
}
struct "Msg" {
    field "text" { primitive "str"; }
}
"""


def changes(new: str, old: str = BASE) -> list[tuple[str, str, bool]]:
    return [(c.where, c.what, c.breaking) for c in diff(parse(old), parse(new))]


def breaking(new: str) -> list[str]:
    return [f"{w}: {x}" for w, x, b in changes(new) if b]


def test_identical_documents_have_no_changes() -> None:
    assert changes(BASE) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('function "echo" {', 'function "shout" {', 'function "echo": removed'),
        (
            'field "text" { primitive "str" max-length=100; }',
            'field "words" { primitive "str" max-length=100; }',
            "field 'text': removed",
        ),
        ('channel "chat" {', 'channel "room" {', 'channel "chat": removed'),
        ("max-length=100", "max-length=10", "field 'text': type changed: narrowed"),
        (
            'field "mood" default="happy" { ref "Mood"; }',
            'field "mood" default="happy" { ref "Mood"; }\n    field "loud" { primitive "bool"; }',
            "field 'loud': added, required",
        ),
        ('auth "user"', 'auth "staff"', "auth user -> staff"),
        (
            '    transport "http"\n    context "global"',
            '    transport "http"\n    context "global"\n    rev 2',
            "rev 1 -> 2",
        ),
        ('enum "Mood" "happy" "sad"', 'enum "Mood" "happy"', "value 'sad' removed"),
        ('output { ref "Msg"; }', 'output { optional { ref "Msg"; }; }', "type changed: widened"),
        ('transport "websocket"', 'transport "http"', "transport websocket -> http"),
        (  # clients read `text` from every Msg: it would stop coming
            'field "text" { primitive "str"; }',
            'field "text" write-only=true { primitive "str"; }',
            "field 'text': no longer written",
        ),
    ],
)
def test_breaking_changes_are_named(old: str, new: str, expected: str) -> None:
    assert old in BASE
    found = breaking(BASE.replace(old, new, 1))
    assert any(expected in line for line in found), found


def test_a_write_only_field_of_a_received_struct_is_judged_as_only_sent() -> None:
    # Msg goes both ways here; its `pin` is never written, so widening it breaks no reader.
    both = BASE.replace(
        '    transport "websocket"\n}',
        '    transport "websocket"\n}\n'
        'function "store" {\n    input "Msg"\n    transport "http"\n}',
        1,
    ).replace(
        'field "text" { primitive "str"; }',
        'field "text" { primitive "str"; }\n    field "pin" write-only=true { primitive "str"; }',
        1,
    )
    widened = both.replace(
        'field "pin" write-only=true { primitive "str"; }',
        'field "pin" write-only=true { optional { primitive "str"; }; }',
    )
    found = changes(widened, both)
    assert found and not any(b for _, _, b in found), found


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("max-length=100", "max-length=1000", "type changed"),
        ('auth "user"', "", "auth user -> public"),
        (
            'field "mood" default="happy" { ref "Mood"; }',
            'field "mood" default="happy" { ref "Mood"; }\n    field "loud" default=false '
            '{ primitive "bool"; }',
            "field 'loud': added",
        ),
        ('enum "Mood" "happy" "sad"', 'enum "Mood" "happy" "sad" "calm"', "value 'calm' added"),
        ('function "echo" {', 'function "echo" doc="Echoes." {', "doc changed"),
        (  # EchoInput only travels to the server
            'field "text" { primitive "str" max-length=100; }',
            'field "text" write-only=true { primitive "str" max-length=100; }',
            "no longer written",
        ),
    ],
)
def test_compatible_changes_are_listed_but_pass(old: str, new: str, expected: str) -> None:
    found = changes(BASE.replace(old, new, 1))
    assert any(expected in f"{w}: {what}" and not b for w, what, b in found), found
    assert not any(b for _, _, b in found), found


def test_a_new_function_is_compatible() -> None:
    new = BASE + 'function "ping" {\n    output { primitive "null"; }\n    transport "http"\n}\n'
    found = changes(parse_sorted(new))
    assert found == [('function "ping"', "added", False)]


def parse_sorted(text: str) -> str:
    from mizan_channels.ir import emit

    return emit(parse(text))


def test_the_cli_exits_1_on_a_breaking_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.kdl", tmp_path / "new.kdl"
    old.write_text(BASE)
    new.write_text(BASE)
    assert main(["diff", str(old), str(new)]) == 0
    new.write_text(BASE.replace("max-length=100", "max-length=1000"))
    assert main(["diff", str(old), str(new)]) == 0
    assert capsys.readouterr().out.startswith("compatible")
    new.write_text(BASE.replace('auth "user"', 'auth "superuser"'))
    assert main(["diff", str(old), str(new)]) == 1
    assert 'BREAKING  function "me": auth user -> superuser' in capsys.readouterr().out
    new.write_text("not kdl {")
    assert main(["diff", str(old), str(new)]) == 2


def test_a_presence_only_type_is_judged_as_one_clients_receive() -> None:
    """Clients read presence metadata: widening a field they rely on breaks them."""
    with_meta = (
        BASE.replace(
            '    server-message "Msg"\n}', '    server-message "Msg"\n    presence "Meta"\n}'
        )
        + 'struct "Meta" {\n    field "name" { primitive "str"; }\n}\n'
    )
    widened = with_meta.replace(
        'field "name" { primitive "str"; }', 'field "name" { optional { primitive "str"; }; }'
    )
    found = changes(widened, old=with_meta)
    assert any("'name'" in f"{w}: {x}" and b for w, x, b in found), found
