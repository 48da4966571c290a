"""The chat's server functions and channels: everything the page calls or subscribes to.

Who sees what is decided once, by `Room.objects.visible_to(user)`. A room the caller may not
see and a room that does not exist give the same answer (`forbidden`), so nothing tells a
non-member that a restricted room exists.

- `current_user` (context "global"): hydrated into the page, refetched when invalidated.
- `room_list` (context "rooms", shared): the public rooms, the same for everyone, so its
  invalidation goes to every socket and its cached value can be shared.
- `my_rooms` (context "user"): the restricted rooms the caller is a member of.
- `room_messages`: a room's recent history, for first paint and after a resync.
- `post_message`: stores, pushes on `ChatChannel` and invalidates the message counts: "rooms"
  for everyone, "user" for the poster's tabs and, for a restricted room, for its members.
- `ChatChannel` (messages of a room) and `TypingChannel` (who is typing; clients `send`; and,
  with presence, who has the room open).

Signing in and out are allauth's flows as server functions (`auth.session`, `auth.sign_in`,
`auth.sign_out`, ...), registered by `mizan_channels.contrib.allauth.enable()` in apps.py.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from django.db import transaction
from django.db.models import Count
from pydantic import BaseModel, Field, StringConstraints

from mizan_channels import ReactChannel, invalidate
from mizan_channels.client import client
from mizan_channels.exceptions import Forbidden

from .models import Message, Room

logger = logging.getLogger("example_chat")

RoomSlug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")]
MessageText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)
]


class UserOut(BaseModel):
    id: int
    username: str


class RoomOut(BaseModel):
    slug: str
    title: str
    restricted: bool
    messages: int


class MessageOut(BaseModel):
    id: int
    room: str
    user: str
    text: str
    created: datetime


def message_out(message: Message) -> MessageOut:
    return MessageOut(
        id=message.pk,
        room=message.room.slug,
        user=message.author.get_username(),
        text=message.text,
        created=message.created,
    )


def room_out(room: Any) -> RoomOut:
    return RoomOut(
        slug=room.slug,
        title=room.title,
        restricted=room.restricted,
        messages=getattr(room, "n_messages", 0),
    )


def visible_room(user: Any, slug: str) -> Room:
    """The room if `user` may see it. Raises Forbidden alike for hidden and missing rooms."""
    room = Room.objects.visible_to(user).filter(slug=slug).first()
    if room is None:
        raise Forbidden(f"No room {slug!r} for you.")
    return room


def _with_counts(rooms: Any) -> list[RoomOut]:
    return [room_out(r) for r in rooms.annotate(n_messages=Count("messages", distinct=True))]


@client(context="global", websocket=True)
def current_user(request) -> UserOut | None:
    user = request.user
    if not user.is_authenticated:
        return None
    return UserOut(id=user.pk, username=user.get_username())


@client(context="rooms", shared=True, auth=True)
def room_list(request) -> list[RoomOut]:
    return _with_counts(Room.objects.filter(restricted=False))


@client(context="user", auth=True)
def my_rooms(request) -> list[RoomOut]:
    return _with_counts(Room.objects.filter(restricted=True, members=request.user))


@client(websocket=True, auth=True)
def room_messages(
    request, room: RoomSlug, limit: Annotated[int, Field(ge=1, le=200)] = 50
) -> list[MessageOut]:
    found = visible_room(request.user, room)
    latest = Message.objects.filter(room=found).select_related("author", "room").order_by("-id")
    return [message_out(m) for m in reversed(latest[:limit])]


@client(websocket=True, auth=True, affects=["rooms", "user"])
def post_message(request, room: RoomSlug, text: MessageText) -> MessageOut:
    with transaction.atomic():
        found = visible_room(request.user, room)
        message = Message.objects.create(room=found, author=request.user, text=text)
        out = message_out(message)
        # Both leave when the transaction commits, and not at all if it rolls back.
        ChatChannel.push(out, room=found.slug)
        if found.restricted:
            for member_pk in found.members.exclude(pk=request.user.pk).values_list("pk", flat=True):
                invalidate("user", user=member_pk)
    return out


class ChatChannel(ReactChannel):
    """The messages of one room, as they are posted."""

    history = 100

    class Params(BaseModel):
        room: RoomSlug

    DjangoMessage = MessageOut

    def authorize(self, params: Params) -> bool:
        return Room.objects.visible_to(self.user).filter(slug=params.room).exists()

    def group(self, params: Params) -> str:
        return f"room:{params.room}"


class TypingOut(BaseModel):
    user: str
    typing: bool


class TypingChannel(ReactChannel):
    """Who is typing in a room, and who has it open. Clients `send` {typing}; everyone in the
    room hears it. Its presence roster lists each subscriber's `{id, username}` (a user's tabs
    count once) and tells the room who arrives and leaves.

    Presence is here rather than on ChatChannel because ChatChannel keeps history: presence
    changes take stream positions that history can't replay, so a reconnecting page would
    refetch the messages whenever someone came or went meanwhile (docs/presence.md, Limits)."""

    presence = True

    class Params(BaseModel):
        room: RoomSlug

    DjangoMessage = TypingOut

    class ReactMessage(BaseModel):
        typing: bool

    def authorize(self, params: Params) -> bool:
        return Room.objects.visible_to(self.user).filter(slug=params.room).exists()

    def group(self, params: Params) -> str:
        return f"typing:{params.room}"

    def receive(self, params: Params, message: ReactMessage) -> None:
        TypingChannel.push(
            TypingOut(user=self.user.get_username(), typing=message.typing), room=params.room
        )
