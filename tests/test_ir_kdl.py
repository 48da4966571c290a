"""The KDL text: exact writing, typed reading, and parse errors that say where and what."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import kdl
import pytest

from mizan_channels.ir import IRSyntaxError, emit, parse
from mizan_channels.ir.model import (
    Affect,
    Alias,
    Choice,
    Constraints,
    DefaultJson,
    DefaultUnknown,
    DefaultValue,
    Document,
    EnumOf,
    EnumType,
    Field,
    Form,
    FormField,
    Function,
    ListOf,
    MapOf,
    OptionalOf,
    Primitive,
    Struct,
    TupleOf,
    UnionOf,
)

SAMPLE = textwrap.dedent(
    """\
    mizan version=1
    alias "ListRoomsOutput" { list { ref "Room"; }; }
    enum "Color" "red" "green" doc="Paint."
    form "contact" title="Contact Us" submit-label="Send" {
        fields "ContactFields"
        output { map { primitive "any"; }; }
        field "size" label="Size" initial="s" { choices { choice "s" "Small"; choice 2 "Two"; }; }
        field "tag" label="Tag" dynamic-choices=true
    }
    function "list_rooms" doc="All rooms." {
        input "ListRoomsInput"
        output { ref "ListRoomsOutput"; }
        transport "websocket"
        affects context="user"
        affects function="list_rooms"
        auth "staff"
        rev 2
        shared true
    }
    struct "ContactFields" {
        field "size" { enum "s" 2; }
        field "tag" default=null { optional { primitive "str"; }; }
    }
    struct "ListRoomsInput" {
        field "limit" default=3 { primitive "int" ge=0 le=100; }
        field "ratio" default=3.0 { primitive "float"; }
        field "tags" default-json="[]" { list unique=true max-length=3 { primitive "str"; }; }
        field "made" has-default=true { tuple { primitive "int"; primitive "str"; }; }
    }
    struct "Room" {
        field "id" { union discriminator="kind" { primitive "int"; primitive "bool"; }; }
        field "meta" output-name="m" doc="One\\n\\"two\\"" { map min-length=1 { ref "Room"; }; }
    }
    """
)


def test_a_document_parses_to_typed_values_and_writes_back_byte_for_byte() -> None:
    doc = parse(SAMPLE)
    assert emit(doc) == SAMPLE
    rooms = doc.type("ListRoomsInput")
    assert isinstance(rooms, Struct)
    limit, ratio, tags, made = rooms.fields
    assert limit == Field("limit", Primitive("int", Constraints(ge=0, le=100)), DefaultValue(3))
    assert type(limit.default.value) is int  # type: ignore[union-attr]
    assert type(ratio.default.value) is float  # type: ignore[union-attr]
    assert tags.shape == ListOf(Primitive("str"), Constraints(max_length=3), unique=True)
    assert tags.default == DefaultJson("[]") and made.default == DefaultUnknown()
    assert made.shape == TupleOf((Primitive("int"), Primitive("str")))
    room = doc.type("Room")
    assert isinstance(room, Struct)
    assert room.fields[0].shape == UnionOf((Primitive("int"), Primitive("bool")), "kind")
    assert room.fields[1].doc == 'One\n"two"' and room.fields[1].output_name == "m"
    assert doc.type("Color") == EnumType("Color", ("red", "green"), "Paint.")
    fn = doc.functions[0]
    assert fn.affects == (Affect("context", "user"), Affect("function", "list_rooms"))
    assert (fn.auth, fn.rev, fn.shared, fn.transport) == ("staff", 2, True, "websocket")
    form = doc.forms[0]
    assert form.fields[0].choices == (Choice("s", "Small"), Choice(2, "Two"))
    assert form.fields[1].dynamic_choices is True


def test_kdl_py_reads_every_emitted_document() -> None:
    assert kdl.parse(SAMPLE).nodes[0].name == "mizan"


def test_hand_built_documents_are_written_sorted() -> None:
    a = Struct("B", (Field("x", Primitive("str")),))
    b = Alias("A", MapOf(OptionalOf(EnumOf((1, True, "x")))))
    f = Function("z", Primitive("null"))
    text = emit(Document(types=(a, b), functions=(f,)))
    assert [line.split(" ")[0] for line in text.splitlines() if not line.startswith(" ")] == [
        "mizan",
        "alias",
        "function",
        "}",
        "struct",
        "}",
    ]
    assert 'enum 1 true "x"' in text
    assert emit(parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "é",
        "tab\there",
        "nl\nx",
        "cr\rx",
        'q"b\\s',
        "\x00\x1f\x7f",
        "\x85\u2028\u2029",
        "\ufeffbom",
        "emoji 🎉",
        "/slash",
        "\\u{41}",
    ],
)
def test_strings_survive_any_character(text: str) -> None:
    doc = Document(types=(Struct("S", (Field("f", Primitive("str"), DefaultValue(text), text),)),))
    written = emit(doc)
    assert len(written.splitlines()) == 4  # escaped: a value never spans lines
    assert parse(written) == doc


@pytest.mark.parametrize("number", [0, -1, 2**64 + 1, 0.0, -0.0, 1.5, 1e-7, 1e300, 123456789.125])
def test_numbers_keep_their_type_and_value(number: float) -> None:
    doc = Document(types=(Struct("S", (Field("f", Primitive("any"), DefaultValue(number)),)),))
    back = parse(emit(doc)).types[0].fields[0].default.value  # type: ignore[union-attr]
    assert back == number and type(back) is type(number)
    assert repr(back) == repr(number)


def error(text: str) -> IRSyntaxError:
    with pytest.raises(IRSyntaxError) as err:
        parse(textwrap.dedent(text))
    return err.value


def test_unknown_node_names_its_line() -> None:
    e = error(
        """\
        mizan version=1
        struct "S" {
            field "a" { primitive "str"; }
            colour "red"
        }
        """
    )
    assert e.line == 4 and "a struct holds only `field` nodes, got `colour`" in str(e)
    assert str(e).startswith("line 4, column 5:")


def test_unknown_property_names_its_line_and_the_known_ones() -> None:
    e = error('mizan version=1\nfunction "f" colour="x" {\n    transport "http"\n}\n')
    assert e.line == 2 and "no property `colour`" in e.message and "doc" in e.message


def test_unknown_child_of_a_function() -> None:
    e = error('mizan version=1\nfunction "f" {\n    transport "http"\n    retries 3\n}\n')
    assert e.line == 4 and "`function` has no child `retries`" in e.message


def test_wrong_value_types_say_what_was_expected() -> None:
    e = error(
        'mizan version=1\nstruct "S" {\n    field "a" { primitive "str" max-length="3"; }\n}\n'
    )
    assert e.line == 3 and "expects an integer, got a string" in e.message
    e = error('mizan version=1\nfunction "f" {\n    transport "http"\n    rev 2.0\n}\n')
    assert e.line == 4 and "an integer" in e.message and "got a float" in e.message


def test_references_must_be_declared() -> None:
    e = error('mizan version=1\nalias "A" { ref "Missing"; }\n')
    assert e.line == 2 and "'Missing' should name an alias, enum or struct" in e.message
    e = error(
        'mizan version=1\nenum "E" "x"\nfunction "f" {\n    input "E"\n    transport "http"\n}\n'
    )
    assert e.line == 4 and "'E' should name a struct" in e.message


def test_header_and_version_are_required() -> None:
    assert "expected `mizan version=1` first" in error('struct "S"\n').message
    assert "version=2" in error("mizan version=2\n").message
    assert "empty document" in error("").message


def test_duplicates_and_shape_arity() -> None:
    assert error('mizan version=1\nstruct "S"\nalias "S" { primitive "int"; }\n').line == 3
    e = error('mizan version=1\nalias "A" { union { primitive "int"; }; }\n')
    assert "two or more arms" in e.message
    e = error('mizan version=1\nalias "A" { list { primitive "int"; primitive "str"; }; }\n')
    assert "exactly one shape" in e.message
    e = error('mizan version=1\nalias "A" { primitive "complex"; }\n')
    assert "unknown primitive 'complex'" in e.message
    both = 'field "a" default=1 has-default=true { primitive "int"; }'
    e = error(f'mizan version=1\nstruct "S" {{\n    {both}\n}}\n')
    assert e.line == 3 and "give at most one" in e.message


def test_invalid_kdl_reports_the_position() -> None:
    e = error('mizan version=1\nstruct "S" {\n    field "a {\n}\n')
    assert e.line >= 3 and "not valid KDL" in e.message
    e = error('mizan version=1\n(tagged)struct "S"\n')
    assert e.line == 2 and "type annotations" in e.message


def test_reading_loads_no_django_machinery() -> None:
    """Importing the package root loads django.core.exceptions (the error tree); reading the
    IR must not pull in settings, the ORM, HTTP or Channels (the public-API layering rule)."""
    code = (
        "import sys; from mizan_channels.ir import parse, emit; "
        f"assert emit(parse({SAMPLE!r})) == {SAMPLE!r}; "
        "heavy = [m for m in sys.modules if m.split('.')[:2] in (['django', 'conf'], "
        "['django', 'db'], ['django', 'http'], ['channels']) or m == 'channels']; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


FORM = Form(
    "f",
    "FFields",
    None,
    fields=(FormField("a", "A", "help", "textarea", DefaultJson("[1]"), (), False),),
)


def test_form_initial_json_round_trips() -> None:
    doc = Document(types=(Struct("FFields"),), forms=(FORM,))
    assert parse(emit(doc)) == doc


def test_a_field_name_is_declared_once_per_struct_and_form() -> None:
    e = error(
        """\
        mizan version=1
        struct "S" {
            field "a" { primitive "str"; }
            field "a" { primitive "int"; }
        }
        """
    )
    assert e.line == 4 and "field 'a' is declared twice" in e.message
    e = error(
        """\
        mizan version=1
        form "f" {
            fields "S"
            field "a"
            field "a"
        }
        struct "S" {
            field "a" { primitive "str"; }
        }
        """
    )
    assert e.line == 5 and "form field 'a' is declared twice" in e.message


def test_form_choices_sit_in_a_choices_node() -> None:
    """shared/design/ir.md: choices with labels are `choices { choice "a" "Apple"; }`."""
    head = 'mizan version=1\nform "f" {\n    fields "S"\n'
    tail = '}\nstruct "S" {\n    field "a" { primitive "str"; }\n}\n'
    e = error(head + '    field "a" { choice "x" "X"; }\n' + tail)
    assert e.line == 4 and "has no child `choice` (known: choices)" in e.message
    e = error(head + '    field "a" { choices { colour "x"; }; }\n' + tail)
    assert "`choices` holds only `choice` nodes, got `colour`" in e.message
