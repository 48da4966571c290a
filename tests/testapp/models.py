"""Models the form tests save through a ModelForm (tickets with tags and an owner)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True)

    def __str__(self) -> str:
        return self.name


class Ticket(models.Model):
    class Priority(models.IntegerChoices):
        LOW = 1, "Low"
        HIGH = 2, "High"

    title = models.CharField(max_length=100, help_text="A short summary.")
    email = models.EmailField()
    priority = models.IntegerField(choices=Priority.choices, default=Priority.LOW)
    due = models.DateField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    def __str__(self) -> str:
        return self.title
