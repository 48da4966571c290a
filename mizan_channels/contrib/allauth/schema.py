"""What the auth functions return: the typed shapes a generated client sees.

Kept apart from the function bodies so the IR names them once (`AuthSession`, `AuthUser`,
`AuthEmail`) and a project can import them for its own type hints without importing
allauth's forms.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class AuthUser(BaseModel):
    """The signed-in user, as far as a page needs to know it."""

    #: The primary key as text, so integer, UUID and string keys all fit one type.
    id: str
    #: None when the user model has no username field (ACCOUNT_USER_MODEL_USERNAME_FIELD).
    username: str | None
    email: str | None
    #: allauth's `user_display()`: what the page shows as the user's name.
    display: str
    #: Whether the primary email address is verified (allauth's `has_verified_email`).
    email_verified: bool


class AuthSession(BaseModel):
    """Who this browser session is. Every auth function that can change it returns it, and
    the session context function serves it to the page."""

    authenticated: bool
    user: AuthUser | None = None
    #: A sign-in or sign-up that allauth has paused at a stage, by the stage's key
    #: ("verify_email" when mandatory verification waits for the emailed link, "mfa_authenticate",
    #: "login_by_code"...). None when nothing is pending.
    pending: str | None = Field(default=None)


class AuthEmail(BaseModel):
    """One of the user's email addresses and whether it is verified."""

    email: str
    verified: bool
    primary: bool
