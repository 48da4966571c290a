"""Rooms and their messages. A restricted room is visible only to its members; everything
that lists, reads or posts goes through `Room.objects.visible_to(user)`, so there is one rule."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class RoomQuerySet(models.QuerySet["Room"]):
    def visible_to(self, user: Any) -> RoomQuerySet:
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        return self.filter(Q(restricted=False) | Q(members=user)).distinct()


class Room(models.Model):
    slug = models.SlugField(max_length=40, unique=True)
    title = models.CharField(max_length=60)
    restricted = models.BooleanField(
        default=False, help_text="Only members may see the room, its messages and its name."
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="rooms")
    created = models.DateTimeField(auto_now_add=True)

    objects = RoomQuerySet.as_manager()

    class Meta:
        ordering = ["created", "id"]

    def __str__(self) -> str:
        return self.title


class Message(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    text = models.TextField(max_length=2000)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["room", "-id"])]

    def __str__(self) -> str:
        return f"{self.author}: {self.text[:40]}"
