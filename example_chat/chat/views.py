"""The two pages: login (Django's) and the chat, rendered with its contexts hydrated."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from .forms import RoomForm


@login_required
@ensure_csrf_cookie  # the runtime's HTTP calls read the token from the cookie
def chat(request: HttpRequest) -> HttpResponse:
    # Where `include("mizan_channels.urls")` is mounted, for the runtime's HTTP calls.
    prefix = reverse("mizan_channels:context", args=["_"]).removesuffix("ctx/_")
    context = {"room_form": RoomForm(request=request), "mizan_prefix": prefix}
    return render(request, "chat/chat.html", context)
