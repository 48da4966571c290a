"""Annotations Django teams write that the first IR tests didn't cover: each maps to the
shape shared/design/ir.md gives it, and round-trips (tests/ir_helpers.ir checks that)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal, NewType

import pytest
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    FutureDate,
    NaiveDatetime,
    PastDate,
)
from pydantic.alias_generators import to_camel
from typing_extensions import TypeAliasType

from mizan_channels import client
from mizan_channels.codegen import generate
from mizan_channels.ir import IRExportError, emit
from mizan_channels.ir.model import (
    Alias,
    Constraints,
    DefaultValue,
    Document,
    ListOf,
    OptionalOf,
    Primitive,
    Ref,
    Struct,
    UnionOf,
)
from tests.ir_helpers import fresh, ir, named


def taking(model: type[BaseModel]) -> Document:
    """The IR of one function that takes a `model` argument."""

    def take(request: Any, m: Any) -> None:
        return None

    take.__annotations__ = {"m": model, "return": None}
    return ir(fresh(client(take)))


class Event(BaseModel):
    starts: AwareDatetime
    local: NaiveDatetime | None = None
    born: PastDate
    due: FutureDate
    plain: datetime.datetime
    cleared: Literal[None] = None
    maybe_nothing: Literal[None] | None = None


def test_pydantic_temporal_classes_and_literal_none_are_primitives() -> None:
    event = named(taking(Event), "Event")
    assert isinstance(event, Struct)
    f = {x.name: x for x in event.fields}
    assert f["starts"].shape == Primitive("datetime")
    assert f["local"].shape == OptionalOf(Primitive("datetime"))
    assert f["born"].shape == Primitive("date")
    assert f["due"].shape == Primitive("date")
    # An empty `enum` would admit no value at all; `Literal[None]` admits exactly null.
    assert f["cleared"].shape == Primitive("null")
    assert f["cleared"].default == DefaultValue(None)
    assert f["maybe_nothing"].shape == Primitive("null")


class Nested(BaseModel):
    twice: Annotated[int | None, "note"] | None = None


def test_a_nullable_already_optional_annotation_is_one_optional() -> None:
    nested = named(taking(Nested), "Nested")
    assert isinstance(nested, Struct)
    assert nested.fields[0].shape == OptionalOf(Primitive("int"))


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, serialize_by_alias=True)


class Cat(Camel):
    pet_kind: Literal["cat"] = "cat"


class Dog(Camel):
    pet_kind: Literal["dog"] = "dog"


class Owner(Camel):
    pet: Cat | Dog = Field(discriminator="pet_kind")


def test_a_discriminator_is_named_as_the_arms_name_the_field() -> None:
    @client
    def adopt(request, o: Owner) -> Owner:
        return o

    @client
    def pets(request) -> list[Annotated[Cat | Dog, Field(discriminator="pet_kind")]]:
        return []

    doc = ir(fresh(adopt, pets))
    cat = named(doc, "Cat")
    assert isinstance(cat, Struct) and cat.fields[0].name == "petKind"
    owner = named(doc, "Owner")
    assert isinstance(owner, Struct)
    assert owner.fields[0].shape == UnionOf((Ref("Cat"), Ref("Dog")), "petKind")
    assert named(doc, "PetsOutput") == Alias(
        "PetsOutput", ListOf(UnionOf((Ref("Cat"), Ref("Dog")), "petKind"))
    )


UserId = NewType("UserId", int)
Tags = TypeAliasType("Tags", list[str])  # `type Tags = list[str]` on Python 3.12+


Pet = TypeAliasType("Pet", Cat | Dog)


class Profile(BaseModel):
    owner: UserId
    tags: Tags = []
    few: Annotated[Tags, Field(max_length=3)] = []
    pet: Annotated[Pet, Field(discriminator="pet_kind")] = Cat()


def test_named_aliases_and_new_types_are_alias_declarations() -> None:
    @client
    def profile(request, p: Profile) -> Tags:
        return []

    doc = ir(fresh(profile))
    assert named(doc, "UserId") == Alias("UserId", Primitive("int"))
    assert named(doc, "Tags") == Alias("Tags", ListOf(Primitive("str")))
    fields = {f.name: f.shape for f in named(doc, "Profile").fields}  # type: ignore[union-attr]
    assert fields["owner"] == Ref("UserId")
    assert fields["tags"] == Ref("Tags")
    # A ref carries no limits, so a limited use keeps its shape inline with the limit.
    assert fields["few"] == ListOf(Primitive("str"), Constraints(max_length=3))
    # ... and so does a discriminator (it was lost on the alias).
    assert fields["pet"] == UnionOf((Ref("Cat"), Ref("Dog")), "petKind")
    assert doc.functions[0].output == Ref("Tags")


class Clash(BaseModel):
    first: int = Field(alias="second")
    second: int


def test_two_fields_under_one_wire_key_fail_the_export() -> None:
    with pytest.raises(IRExportError, match=r"'first' and 'second' are both read under"):
        taking(Clash)


class Account(BaseModel):
    name: str
    password: str = Field(exclude=True)  # read from the client, never written back


class Login(BaseModel):
    name: str
    password: str = Field(exclude=True)


class Session(BaseModel):
    name: str
    token: str = Field(exclude=True)


def test_a_field_the_server_never_writes_is_write_only() -> None:
    """`Field(exclude=True)`: marked where the struct travels both ways, left out where only
    the server sends it, unmarked where only the client does (a generated output type that
    listed it would promise a key that never comes)."""

    @client
    def update(request, a: Account) -> Account:
        return a

    @client
    def login(request, credentials: Login) -> Session:
        raise NotImplementedError

    doc = ir(fresh(update, login))
    account = named(doc, "Account")
    assert isinstance(account, Struct)
    assert [(f.name, f.write_only) for f in account.fields] == [
        ("name", False),
        ("password", True),
    ]
    session = named(doc, "Session")
    assert isinstance(session, Struct) and [f.name for f in session.fields] == ["name"]
    credentials = named(doc, "Login")
    assert isinstance(credentials, Struct)
    assert [(f.name, f.write_only) for f in credentials.fields] == [
        ("name", False),
        ("password", False),
    ]
    assert 'field "password" write-only=true' in emit(doc)
    ts = generate(doc)["types.ts"]
    assert "export type Account = {\n  name: string;\n};" in ts  # what the server writes
    assert "export type AccountIn = {\n  name: string;\n  password: string;\n};" in ts


class Secret(BaseModel):
    hint: str


class Tagged(Camel):
    secret_pw: str = Field(default="", exclude=True)  # before the tag: positions shift
    pet_kind: Literal["tagged"] = "tagged"


class Plain(Camel):
    pet_kind: Literal["plain"] = "plain"


class Shelter(BaseModel):
    pet: Tagged | Plain = Field(discriminator="pet_kind")
    vault: Secret = Field(default=Secret(hint=""), exclude=True)


def test_write_only_fields_dropped_from_received_structs_take_nothing_with_them() -> None:
    """A received struct loses its write-only fields: the discriminator is still named from
    the fields that remain, and a type only such a field mentioned is no type of the IR."""

    @client
    def shelter(request) -> Shelter:
        raise NotImplementedError

    doc = ir(fresh(shelter))
    home = named(doc, "Shelter")
    assert isinstance(home, Struct) and [f.name for f in home.fields] == ["pet"]
    assert home.fields[0].shape == UnionOf((Ref("Tagged"), Ref("Plain")), "petKind")
    assert "Secret" not in {t.name for t in doc.types}
