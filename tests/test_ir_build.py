"""build_ir: Pydantic models and annotations become named types and shapes, exactly."""

from __future__ import annotations

import datetime
import decimal
import enum
import uuid
from typing import Annotated, Any, Generic, Literal, Optional, TypeVar

import pytest
from pydantic import BaseModel, ConfigDict, Field, RootModel

from mizan_channels import client
from mizan_channels.ir import IRExportError
from mizan_channels.ir.model import (
    Alias,
    Constraints,
    DefaultJson,
    DefaultUnknown,
    DefaultValue,
    EnumOf,
    EnumType,
    ListOf,
    MapOf,
    OptionalOf,
    Primitive,
    Ref,
    Struct,
    TupleOf,
    UnionOf,
)
from tests.ir_helpers import fresh, ir, named

T = TypeVar("T")


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Tree(BaseModel):
    """A recursive model."""

    label: str
    children: list[Tree] = []


class Room(BaseModel):
    id: int
    name: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class Every(BaseModel):
    s: str
    i: int
    f: float
    b: bool
    when: datetime.datetime
    day: datetime.date
    at: datetime.time
    uid: uuid.UUID
    amount: decimal.Decimal
    raw: bytes
    anything: Any
    maybe: Optional[str]  # noqa: UP045 - Optional[] is what's under test
    maybe_too: int | None = None
    names: list[str]
    pair: tuple[int, str]
    many: tuple[int, ...]
    tags: set[str]
    scores: dict[str, float]
    mode: Literal["a", "b", 3]
    color: Color = Color.GREEN
    level: Level
    either: int | bool
    either_rev: bool | int


def fields_of(doc: Any, name: str) -> dict[str, Any]:
    t = named(doc, name)
    assert isinstance(t, Struct)
    return {f.name: f for f in t.fields}


def test_every_supported_annotation_has_its_shape() -> None:
    @client
    def every(request, x: Every) -> Every:
        return x

    f = fields_of(ir(fresh(every)), "Every")
    assert f["s"].shape == Primitive("str")
    assert f["i"].shape == Primitive("int")
    assert f["f"].shape == Primitive("float")
    assert f["b"].shape == Primitive("bool")
    assert f["when"].shape == Primitive("datetime")
    assert f["day"].shape == Primitive("date")
    assert f["at"].shape == Primitive("time")
    assert f["uid"].shape == Primitive("uuid")
    assert f["amount"].shape == Primitive("decimal")
    assert f["raw"].shape == Primitive("bytes")
    assert f["anything"].shape == Primitive("any")
    assert f["maybe"].shape == OptionalOf(Primitive("str"))
    assert f["maybe"].required
    assert f["maybe_too"].default == DefaultValue(None)
    assert f["names"].shape == ListOf(Primitive("str"))
    assert f["pair"].shape == TupleOf((Primitive("int"), Primitive("str")))
    assert f["many"].shape == ListOf(Primitive("int"))
    assert f["tags"].shape == ListOf(Primitive("str"), unique=True)
    assert f["scores"].shape == MapOf(Primitive("float"))
    assert f["mode"].shape == EnumOf(("a", "b", 3))
    assert f["color"].shape == Ref("Color")
    assert f["color"].default == DefaultValue("green")
    assert f["level"].shape == Ref("Level")
    assert f["either"].shape == UnionOf((Primitive("int"), Primitive("bool")))
    assert f["either_rev"].shape == UnionOf((Primitive("bool"), Primitive("int")))


def test_enums_become_named_types_with_their_values() -> None:
    @client
    def paint(request, color: Color, level: Level) -> None:
        return None

    doc = ir(fresh(paint))
    assert named(doc, "Color") == EnumType("Color", ("red", "green"))
    assert named(doc, "Level") == EnumType("Level", (1, 2))
    assert doc.functions[0].output == Primitive("null")


def test_recursive_and_nested_models_refer_by_name() -> None:
    @client
    def forest(request) -> Tree:
        return Tree(label="x")

    doc = ir(fresh(forest))
    tree = named(doc, "Tree")
    assert isinstance(tree, Struct) and tree.doc == "A recursive model."
    assert tree.fields[1].shape == ListOf(Ref("Tree"))
    assert tree.fields[1].default == DefaultJson("[]")
    assert doc.functions[0].output == Ref("Tree")


def test_list_output_becomes_a_named_alias() -> None:
    @client
    def list_rooms(request) -> list[Room]:
        return []

    doc = ir(fresh(list_rooms))
    assert named(doc, "ListRoomsOutput") == Alias("ListRoomsOutput", ListOf(Ref("Room")))
    assert doc.functions[0].output == Ref("ListRoomsOutput")
    assert doc.functions[0].input is None


def test_input_struct_follows_the_registered_name() -> None:
    @client
    def echo(request, text: str, times: int = 2) -> str:
        return text

    doc = ir(fresh(**{"tools.echo_twice": echo}))
    assert doc.functions[0].input == "ToolsEchoTwiceInput"
    struct = named(doc, "ToolsEchoTwiceInput")
    assert isinstance(struct, Struct)
    assert [(f.name, f.default) for f in struct.fields] == [
        ("text", None),
        ("times", DefaultValue(2)),
    ]


class Defaults(BaseModel):
    count: int = 3
    ratio: float = 1.0
    big: int = 2**70
    name: str = 'x\n"y"'
    off: bool = False
    nothing: str | None = None
    items: list[int] = [1, 2]
    mapping: dict[str, int] = {"b": 2, "a": 1}
    room: Room = Room(id=1, name="lobby")
    made: list[str] = Field(default_factory=list)
    stamp: datetime.datetime = Field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    when: datetime.date = datetime.date(2024, 1, 31)
    letters: frozenset[str] = frozenset({"c", "a", "b"})


def test_defaults_keep_their_exact_json_values() -> None:
    @client
    def d(request, x: Defaults) -> None:
        return None

    f = fields_of(ir(fresh(d)), "Defaults")
    for key, expected in {"count": 3, "ratio": 1.0, "big": 2**70, "off": False}.items():
        value = f[key].default.value
        assert value == expected and type(value) is type(expected), key
    assert f["name"].default == DefaultValue('x\n"y"')
    assert f["nothing"].default == DefaultValue(None)
    assert f["items"].default == DefaultJson("[1,2]")
    assert f["mapping"].default == DefaultJson('{"a":1,"b":2}')
    assert f["room"].default == DefaultJson('{"id":1,"name":"lobby"}')
    assert f["made"].default == DefaultJson("[]")
    assert f["stamp"].default == DefaultUnknown()
    assert f["when"].default == DefaultValue("2024-01-31")
    assert f["letters"].default == DefaultJson('["a","b","c"]')


class Limited(BaseModel):
    code: str = Field(min_length=2, max_length=8, pattern=r"^[A-Z]+\d$", description="A code.")
    age: int = Field(ge=0, lt=150)
    price: decimal.Decimal = Field(gt=0, max_digits=6, decimal_places=2)
    step: float = Field(multiple_of=0.5, le=10)
    note: str | None = Field(None, max_length=20)
    tags: list[Annotated[str, Field(max_length=10)]] = Field(max_length=3)
    alias_me: str = Field(alias="aliasMe")


def test_constraints_sit_on_the_shape_they_limit() -> None:
    @client
    def limits(request, x: Limited) -> None:
        return None

    f = fields_of(ir(fresh(limits)), "Limited")
    assert f["code"].shape == Primitive(
        "str", Constraints(min_length=2, max_length=8, pattern=r"^[A-Z]+\d$")
    )
    assert f["code"].doc == "A code."
    assert f["age"].shape == Primitive("int", Constraints(ge=0, lt=150))
    assert f["price"].shape == Primitive(
        "decimal", Constraints(gt=0, max_digits=6, decimal_places=2)
    )
    assert f["step"].shape == Primitive("float", Constraints(le=10, multiple_of=0.5))
    assert f["note"].shape == OptionalOf(Primitive("str", Constraints(max_length=20)))
    assert f["tags"].shape == ListOf(
        Primitive("str", Constraints(max_length=10)), Constraints(max_length=3)
    )
    assert "aliasMe" in f and "alias_me" not in f


class Camel(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    user_name: str = Field(alias="userName")


class CamelOut(BaseModel):
    model_config = ConfigDict(serialize_by_alias=True)
    user_name: str = Field(alias="userName")


def test_field_names_are_the_keys_each_direction_uses() -> None:
    @client
    def send(request, x: Camel) -> None:
        return None

    @client
    def get(request) -> Camel:
        raise NotImplementedError

    @client
    def both(request, x: Camel) -> Camel:
        return x

    @client
    def get_out(request) -> CamelOut:
        raise NotImplementedError

    def one(fn: Any) -> Any:
        return next(iter(fields_of(ir(fresh(fn)), fn.__mizan__.output.__name__).values()))

    sent = fields_of(ir(fresh(send)), "Camel")["userName"]
    assert sent.output_name is None
    # Served: invoke dumps without by_alias, so the key on the wire is the Python name.
    assert one(get).name == "user_name"
    assert one(both).name == "userName" and one(both).output_name == "user_name"
    assert one(get_out).name == "userName" and one(get_out).output_name is None


def test_generic_models_get_concrete_names() -> None:
    @client
    def rooms(request) -> Page[Room]:
        raise NotImplementedError

    doc = ir(fresh(rooms))
    assert doc.functions[0].output == Ref("PageRoom")
    assert fields_of(doc, "PageRoom")["items"].shape == ListOf(Ref("Room"))


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool


class Pets(RootModel[list[Annotated[Cat | Dog, Field(discriminator="kind")]]]):
    """Pets, by kind."""


def test_discriminated_unions_and_root_models() -> None:
    @client
    def pets(request) -> Pets:
        raise NotImplementedError

    doc = ir(fresh(pets))
    assert named(doc, "Pets") == Alias(
        "Pets", ListOf(UnionOf((Ref("Cat"), Ref("Dog")), "kind")), "Pets, by kind."
    )


class Opaque:
    pass


class Holder(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)
    thing: Opaque


def test_unsupported_type_names_function_field_and_type() -> None:
    @client
    def hold(request, h: Holder) -> None:
        return None

    with pytest.raises(IRExportError) as err:
        ir(fresh(hold))
    message = str(err.value)
    assert "'thing'" in message and "Holder" in message and "Opaque" in message
    assert "function 'hold'" in message


def test_non_string_map_keys_are_refused() -> None:
    @client
    def ids(request) -> dict[int, str]:
        return {}

    with pytest.raises(IRExportError, match=r"function 'ids'.*JSON object keys are strings"):
        ir(fresh(ids))


def make_a() -> type[BaseModel]:
    class Room(BaseModel):
        a: int

    return Room


def make_b() -> type[BaseModel]:
    class Room(BaseModel):
        b: int

    return Room


RoomA, RoomB = make_a(), make_b()


def test_two_models_with_one_class_name_name_both_paths() -> None:
    @client
    def one(request) -> RoomA:  # type: ignore[valid-type]
        raise NotImplementedError

    @client
    def two(request) -> RoomB:  # type: ignore[valid-type]
        raise NotImplementedError

    with pytest.raises(IRExportError) as err:
        ir(fresh(one, two))
    assert "make_a.<locals>.Room" in str(err.value)
    assert "make_b.<locals>.Room" in str(err.value)


def test_same_registry_same_bytes() -> None:
    from mizan_channels.ir import build_ir, emit

    @client
    def a(request, x: Every) -> list[Tree]:
        return []

    @client
    def b(request) -> Page[Room]:
        raise NotImplementedError

    assert emit(build_ir(fresh(a, b))) == emit(build_ir(fresh(b, a)))
