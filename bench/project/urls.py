"""URLs of the bench project: mizan's HTTP transport and the plain and ninja peers."""

from __future__ import annotations

from django.urls import include, path

from .views import api, plain_aecho, plain_echo

urlpatterns = [
    path("api/mizan/", include("mizan_channels.urls")),
    path("plain/echo", plain_echo),
    path("plain/aecho", plain_aecho),
    path("ninja/", api.urls),
]
