"""The request object a function receives over the socket.

It offers what function bodies use on HTTP (`user`, `session`, `headers`, `META`, `COOKIES`,
`GET`, `method`, `path`, `scope`) so one body serves both transports. What differs: there is
no body, `method` is "WEBSOCKET", `is_websocket` is True and `transport` says "websocket";
`user` may change during the socket's life (an `auth` frame), and `session` is the one the
socket opened with.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict


class SocketRequest:
    method = "WEBSOCKET"
    transport = "websocket"
    is_websocket = True
    mizan_transport = "websocket"

    def __init__(self, scope: dict[str, Any], conn: str) -> None:
        self.scope = scope
        self.mizan_conn = conn
        self.user: Any = scope.get("user") or AnonymousUser()
        self.session: Any = scope.get("session")
        self.path: str = scope.get("path", "")

    async def auser(self) -> Any:
        return self.user

    @cached_property
    def headers(self) -> dict[str, str]:
        """Header names lower-cased; repeated headers joined with ', '."""
        out: dict[str, str] = {}
        for raw_name, raw_value in self.scope.get("headers", ()):
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            out[name] = f"{out[name]}, {value}" if name in out else value
        return out

    @cached_property
    def META(self) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "REQUEST_METHOD": self.method,
            "PATH_INFO": self.path,
            "QUERY_STRING": self.scope.get("query_string", b"").decode("latin-1"),
        }
        client = self.scope.get("client")
        if client:
            meta["REMOTE_ADDR"] = client[0]
        for name, value in self.headers.items():
            key = name.upper().replace("-", "_")
            meta[key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"] = value
        return meta

    @cached_property
    def COOKIES(self) -> dict[str, str]:
        return dict(self.scope.get("cookies", {}))

    @cached_property
    def GET(self) -> QueryDict:
        return QueryDict(self.scope.get("query_string", b"").decode("latin-1"))

    def __repr__(self) -> str:
        return f"<SocketRequest {self.path} conn={self.mizan_conn}>"
