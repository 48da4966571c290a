"""URLs: the chat page, the login page, the admin, allauth's pages (its emails link to them),
and mizan's HTTP endpoints. Signing in and out are server functions (`auth.sign_in`,
`auth.sign_out`) the pages call through mizan, not views of their own."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from example_chat.chat import views

urlpatterns = [
    path("", views.chat, name="chat"),
    path("login/", views.login, name="login"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/mizan/", include("mizan_channels.urls")),
]
