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
    # The same chat in React on the generated client (example_chat/react/, built first).
    path("react/", views.react_chat, name="react_chat"),
    path("react/<str:path>", views.react_asset, name="react_asset"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/mizan/", include("mizan_channels.urls")),
]
