"""Creating a room: a plain Django form, served as `create_room.schema/validate/submit`.

The same form renders server-side in the page (`{{ form }}`) and validates the socket call,
so its rules and messages are written once. A new room is public; submitting it invalidates
the shared "rooms" context, so every open page's room list refetches.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import IntegrityError
from django.utils.text import slugify

from mizan_channels.exceptions import InvalidParams
from mizan_channels.forms import mizanFormMeta, mizanFormMixin

from .clients import RoomOut, room_out
from .models import Room


class RoomForm(mizanFormMixin, forms.Form):
    mizan = mizanFormMeta(
        name="create_room",
        title="New room",
        submit_label="Create",
        auth=True,
        affects="rooms",
    )

    title = forms.CharField(max_length=60, min_length=2, label="Room name")

    def clean_title(self) -> str:
        title: str = self.cleaned_data["title"].strip()
        slug = slugify(title)[:40]
        if not slug:
            raise forms.ValidationError("Use at least one letter or digit.", code="no_slug")
        if Room.objects.filter(slug=slug).exists():
            raise forms.ValidationError("A room with this name exists.", code="taken")
        return title

    def on_submit_success(self, request: Any) -> RoomOut:
        title = self.cleaned_data["title"]
        try:
            room = Room.objects.create(slug=slugify(title)[:40], title=title)
        except IntegrityError:  # created by someone else since clean_title() looked
            taken = {"loc": ["title"], "msg": "A room with this name exists.", "type": "taken"}
            raise InvalidParams(details=[taken]) from None
        return room_out(room)
