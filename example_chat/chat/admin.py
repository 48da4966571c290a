"""Admin: rooms and their members are managed here (and by `seed_demo`)."""

from __future__ import annotations

from django.contrib import admin

from .models import Message, Room


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ("slug", "title", "restricted")
    filter_horizontal = ("members",)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("room", "author", "text", "created")
    list_filter = ("room",)
