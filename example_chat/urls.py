"""URLs: the chat page, login/logout, the admin, and mizan's HTTP endpoints."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from example_chat.chat import views

urlpatterns = [
    path("", views.chat, name="chat"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="chat/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/mizan/", include("mizan_channels.urls")),
]
