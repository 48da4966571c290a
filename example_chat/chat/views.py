"""The pages: the login page and the chat, rendered with its contexts hydrated, and the same
chat in React once example_chat/react/build.py has built it. None handles a POST: the pages
sign in and out by calling allauth's flows as server functions (`auth.sign_in`,
`auth.sign_out`) over HTTP, the way they call everything else."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_safe
from django.views.static import serve

from .forms import RoomForm


def mizan_prefix() -> str:
    """Where `include("mizan_channels.urls")` is mounted, for the runtime's HTTP calls."""
    return reverse("mizan_channels:context", args=["_"]).removesuffix("ctx/_")


@login_required
@ensure_csrf_cookie  # the runtime's HTTP calls read the token from the cookie
def chat(request: HttpRequest) -> HttpResponse:
    context = {"room_form": RoomForm(request=request), "mizan_prefix": mizan_prefix()}
    return render(request, "chat/chat.html", context)


@require_safe
@ensure_csrf_cookie
def login(request: HttpRequest) -> HttpResponse:
    """The sign-in form; its script calls `auth.sign_in`, then goes to `next`."""
    target = request.GET.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    # Only a path on this site: an attacker's link must not bounce a fresh login elsewhere.
    next_url = target if safe and target else resolve_url(settings.LOGIN_REDIRECT_URL)
    if request.user.is_authenticated:
        return redirect(next_url)
    context = {"next_url": next_url, "mizan_prefix": mizan_prefix()}
    return render(request, "chat/login.html", context)


def react_dist() -> Path:
    """Where `example_chat/react/build.py` put the React page's bundle (`CHAT_REACT_DIST`,
    else the gitignored example_chat/react/dist)."""
    default = Path(__file__).resolve().parent.parent / "react" / "dist"
    return Path(os.environ.get("CHAT_REACT_DIST") or default)


@login_required
@ensure_csrf_cookie
def react_chat(request: HttpRequest) -> HttpResponse:
    """The chat written in React against the generated client, once it has been built."""
    built = (react_dist() / "main.js").exists()
    context = {"built": built, "mizan_prefix": mizan_prefix()}
    return render(request, "chat/react.html", context, status=200 if built else 503)


@require_safe
def react_asset(request: HttpRequest, path: str) -> HttpResponse:
    """The bundle and its source map (a built file, so not among the app's static files)."""
    if path not in {"main.js", "main.js.map"}:
        raise Http404(f"No React asset {path!r}: the bundle is main.js.")
    return serve(request, path, document_root=str(react_dist()))
