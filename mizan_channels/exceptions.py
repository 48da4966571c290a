"""The error tree: every failure a client can see is a `MizanError` with a protocol code.

Transports never invent errors of their own; they turn a `MizanError` into a frame or an
HTTP response through `ErrorCode.status` and `MizanError.payload()`, so a code means the
same thing on every transport.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.core.exceptions import ImproperlyConfigured


class ErrorCode(StrEnum):
    """The protocol's stable error strings (protocol.md, "Error codes")."""

    BAD_FRAME = "bad_frame"
    TOO_LARGE = "too_large"
    UNKNOWN_FUNCTION = "unknown_function"
    UNKNOWN_CHANNEL = "unknown_channel"
    NOT_EXPOSED = "not_exposed"
    INVALID_PARAMS = "invalid_params"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_SUBSCRIBED = "not_subscribed"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"

    @property
    def status(self) -> int:
        return _STATUS[self]


_STATUS: dict[ErrorCode, int] = {
    ErrorCode.BAD_FRAME: 400,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNKNOWN_FUNCTION: 404,
    ErrorCode.UNKNOWN_CHANNEL: 404,
    ErrorCode.NOT_EXPOSED: 404,
    ErrorCode.INVALID_PARAMS: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_SUBSCRIBED: 400,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.SERVER_ERROR: 500,
}

_DEFAULT_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.BAD_FRAME: "Malformed frame.",
    ErrorCode.TOO_LARGE: "Message is larger than the configured limit.",
    ErrorCode.UNKNOWN_FUNCTION: "No such function.",
    ErrorCode.UNKNOWN_CHANNEL: "No such channel.",
    ErrorCode.NOT_EXPOSED: "This function is not callable this way.",
    ErrorCode.INVALID_PARAMS: "Invalid parameters.",
    ErrorCode.UNAUTHORIZED: "Authentication required.",
    ErrorCode.FORBIDDEN: "Not allowed.",
    ErrorCode.NOT_SUBSCRIBED: "No such subscription on this socket.",
    ErrorCode.RATE_LIMITED: "Too many requests.",
    ErrorCode.SERVER_ERROR: "Internal server error.",
}


class MizanError(Exception):
    """A failure with a protocol error code. Raise it (or a subclass) from server functions
    to answer the caller with that code instead of `server_error`."""

    code: ErrorCode = ErrorCode.SERVER_ERROR

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | str | None = None,
        details: Any = None,
    ) -> None:
        if code is not None:
            self.code = ErrorCode(code)
        self.message = message or _DEFAULT_MESSAGES[self.code]
        self.details = details
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return self.code.status

    def payload(self) -> dict[str, Any]:
        """The protocol's `error` object."""
        out: dict[str, Any] = {"code": self.code.value, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        return out


class BadFrame(MizanError):
    code = ErrorCode.BAD_FRAME


class TooLarge(MizanError):
    code = ErrorCode.TOO_LARGE


class UnknownFunction(MizanError):
    code = ErrorCode.UNKNOWN_FUNCTION


class UnknownChannel(MizanError):
    code = ErrorCode.UNKNOWN_CHANNEL


class NotExposed(MizanError):
    code = ErrorCode.NOT_EXPOSED


class InvalidParams(MizanError):
    code = ErrorCode.INVALID_PARAMS


class Unauthorized(MizanError):
    code = ErrorCode.UNAUTHORIZED


class Forbidden(MizanError):
    code = ErrorCode.FORBIDDEN


class NotSubscribed(MizanError):
    code = ErrorCode.NOT_SUBSCRIBED


class RateLimited(MizanError):
    code = ErrorCode.RATE_LIMITED


class ServerError(MizanError):
    code = ErrorCode.SERVER_ERROR


class ConfigurationError(ImproperlyConfigured):
    """A declaration (`@client`, `ReactChannel`, a form) is wrong. Raised at import time,
    before any request, with a message naming what to change."""


def validation_details(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic's error list reduced to the protocol's `{loc, msg, type}` entries.

    Input values are deliberately left out: they may be passwords or tokens.
    """
    return [
        {"loc": [p for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in errors
    ]
