"""build_ir: function flags and channels as the IR states them."""

from __future__ import annotations

from typing import Annotated, Literal

import pytest
from django.http import HttpResponse
from pydantic import BaseModel, Field

from mizan_channels import ReactChannel, client
from mizan_channels.ir import IRExportError
from mizan_channels.ir.model import Affect, Alias, Channel, Primitive, Ref, UnionOf
from tests.ir_helpers import fresh, ir, named, scratch_channels


@client(context="user", websocket=True, auth=True, shared=True, rev=3)
def profile(request) -> str:
    """The caller's profile."""
    return ""


@client(websocket=True, affects=["user", profile], auth="staff")
def rename(request, name: str) -> bool:
    return True


@client(route="/p/<int:id>/", auth=lambda request: True)
def page(request, id: int) -> HttpResponse:
    return HttpResponse("")


def test_function_flags_are_all_stated() -> None:
    doc = ir(fresh(profile, rename, page))
    by = {f.name: f for f in doc.functions}
    p = by["profile"]
    assert (p.context, p.transport, p.auth, p.shared, p.rev, p.doc) == (
        "user",
        "websocket",
        "user",
        True,
        3,
        "The caller's profile.",
    )
    r = by["rename"]
    assert r.affects == (Affect("context", "user"), Affect("function", "profile"))
    assert (r.auth, r.input, r.output, r.shared, r.rev) == (
        "staff",
        "RenameInput",
        Primitive("bool"),
        False,
        1,
    )
    v = by["page"]
    assert (v.route, v.output, v.transport, v.auth) == ("/p/<int:id>/", None, "http", "custom")


def test_affects_names_the_registered_name_of_a_function() -> None:
    doc = ir(fresh(rename, **{"me.profile": profile}))
    assert doc.functions[1].affects[1] == Affect("function", "me.profile")


def test_affecting_an_unregistered_function_fails_the_export() -> None:
    with pytest.raises(IRExportError, match=r"function 'rename'.*profile.*not registered"):
        ir(fresh(rename))


def test_channels_name_their_nested_models_after_the_channel() -> None:
    with scratch_channels():

        class IrRoomChatChannel(ReactChannel):
            """Chat in one room."""

            history = 50

            class Params(BaseModel):
                room: str

            class DjangoMessage(BaseModel):
                text: str

            class ReactMessage(BaseModel):
                text: str = Field(max_length=500)

            def group(self, params):
                return params.room

            def receive(self, params, message):
                return None

        class IrNewsChannel(ReactChannel):
            class Params(BaseModel):
                pass

            class DjangoMessage(BaseModel):
                headline: str

            def group(self, params):
                return "news"

        reg = fresh()
        reg.add_channel("room_chat", IrRoomChatChannel)
        reg.add_channel("news", IrNewsChannel)
        doc = ir(reg)
    assert doc.channels == (
        Channel("news", "NewsParams", "NewsMessage"),
        Channel(
            "room_chat",
            "RoomChatParams",
            "RoomChatMessage",
            "RoomChatClientMessage",
            50,
            "Chat in one room.",
        ),
    )
    assert named(doc, "NewsParams").fields == ()  # type: ignore[union-attr]


class Joined(BaseModel):
    kind: Literal["joined"] = "joined"
    user: str


class Said(BaseModel):
    kind: Literal["said"] = "said"
    text: str


def test_a_union_of_server_messages_is_an_alias() -> None:
    with scratch_channels():

        class IrLobbyChannel(ReactChannel):
            class Params(BaseModel):
                pass

            DjangoMessage = Annotated[Joined | Said, Field(discriminator="kind")]

            def group(self, params):
                return "lobby"

        reg = fresh()
        reg.add_channel("lobby", IrLobbyChannel)
        doc = ir(reg)
    assert doc.channels[0].server_message == "LobbyMessage"
    assert named(doc, "LobbyMessage") == Alias(
        "LobbyMessage", UnionOf((Ref("Joined"), Ref("Said")), "kind")
    )
