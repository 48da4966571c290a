"""The auth flows as server functions, each a thin call into allauth.

Every body does what allauth's own view for the flow does, in the same order: count the rate
limit, bind allauth's form (or the project's replacement from ACCOUNT_FORMS), let the form or
allauth's flow act, and report the session that results. Nothing here checks a password,
decides on verification or sends mail itself; adapters, signals and settings apply as they do
for allauth's pages.

They are plain functions here; `enable()` decorates and registers them, because their names,
context and invalidation targets are the project's choice.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from allauth.account import app_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import LoginForm, ResetPasswordForm, SignupForm
from allauth.account.internal.flows.logout import logout
from allauth.account.models import EmailAddress
from allauth.account.utils import complete_signup
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.utils import get_form_class

from ...auth import is_authenticated
from ...exceptions import Forbidden
from . import AuthEmail, AuthSession, bridge


def session(request: Any) -> AuthSession:
    """Who this browser session is: the signed-in user, or anonymous with the stage a paused
    sign-in waits at. Over HTTP it also gives a visitor without a session one, so its sockets
    can follow a later sign-in."""
    bridge.keep_session(request)  # never a socket's: no browser holds a cookie for it
    with bridge.allauth_request(request) as req:
        return bridge.session_of(req)


def sign_in(request: Any, login: str, password: str, remember: bool = False) -> AuthSession:
    """Sign in with a username or email address (as ACCOUNT_LOGIN_METHODS allows) and a
    password. A wrong password and an unknown account fail alike (invalid_params); repeated
    failures are rate_limited. `enable()` registers it HTTP only: only an HTTP response can
    set the new session cookie. Every socket of the session follows the new user."""
    with bridge.allauth_request(request) as req:
        bridge.consume(req, "login")
        form_class = get_form_class(app_settings.FORMS, "login", LoginForm)
        data = {"login": login, "password": password, "remember": remember}
        form = form_class(data=data, request=req)
        if not form.is_valid():
            bridge.form_failed(form)
        form.login(req)
        return bridge.session_of(req)


def sign_out(request: Any) -> AuthSession:
    """Sign out this browser session (and drop a paused sign-in). Every socket of the session
    becomes anonymous; subscriptions that need a user end."""
    with bridge.allauth_request(request) as req:
        logout(req, show_message=False)
        return bridge.session_of(req)


def sign_up(
    request: Any,
    email: str | None = None,
    username: str | None = None,
    password: str | None = None,
    password2: str | None = None,
    email2: str | None = None,
    phone: str | None = None,
    fields: dict[str, str] | None = None,
) -> AuthSession:
    """Create an account through allauth's signup form (ACCOUNT_SIGNUP_FIELDS says which
    arguments are required; `fields` carries a custom ACCOUNT_SIGNUP_FORM_CLASS's extra
    fields) and sign it in, or report the pending email verification. With allauth's
    enumeration prevention and mandatory verification, a taken email answers like a new
    account awaiting verification and the owner is emailed instead; otherwise it is an
    `email_taken` error at "email". HTTP only, like sign_in: it signs the new account in."""
    with bridge.allauth_request(request) as req:
        if is_authenticated(req.user):
            raise Forbidden("Already signed in; sign out before creating another account.")
        adapter = get_adapter(req)
        if not adapter.is_open_for_signup(req):
            raise Forbidden("Sign-up is closed.")
        bridge.consume(req, "signup")
        given = {
            "email": email,
            "email2": email2,
            "username": username,
            "phone": phone,
            "password1": password,
            "password2": password2,
        }
        data = {**(fields or {}), **{k: v for k, v in given.items() if v is not None}}
        form = get_form_class(app_settings.FORMS, "signup", SignupForm)(data=data)
        if not form.is_valid():
            bridge.form_failed(form, rename={"password1": "password"})
        user, response = form.try_save(req)
        if response is None:
            # A stage or hook may answer with a response; the session below says where it stands.
            with suppress(ImmediateHttpResponse):
                complete_signup(req, user, None, None)
        return bridge.session_of(req)


def request_password_reset(request: Any, email: str) -> None:
    """Email a password reset link (or code) to the account with this address. Answers the
    same for an unknown address unless ACCOUNT_PREVENT_ENUMERATION is off."""
    with bridge.allauth_request(request) as req:
        form_class = get_form_class(app_settings.FORMS, "reset_password", ResetPasswordForm)
        form = form_class(data={"email": email})
        if not form.is_valid():
            bridge.form_failed(form)
        bridge.consume(req, "reset_password", key=form.cleaned_data["email"].lower())
        form.save(req)


def email_status(request: Any) -> list[AuthEmail]:
    """The signed-in user's email addresses, primary first, and which are verified."""
    addresses = EmailAddress.objects.filter(user_id=request.user.pk).order_by("-primary", "email")
    return [AuthEmail(email=a.email, verified=a.verified, primary=a.primary) for a in addresses]
