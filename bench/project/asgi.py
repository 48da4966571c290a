"""One ASGI entry for every peer. `/ws/raw/` goes straight to the bare app (no routing, no
middleware: the ceiling); everything else through `wrap_asgi`, with the Channels peers as
extra routes behind the same origin check and auth middleware as mizan's socket."""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.project.settings")

from django.core.asgi import get_asgi_application

django_app = get_asgi_application()

from django.urls import path  # noqa: E402

from mizan_channels import wrap_asgi  # noqa: E402

from .consumers import DcrfConsumer, HandConsumer, RpcConsumer  # noqa: E402
from .raw import raw_app  # noqa: E402

mizan_app = wrap_asgi(
    django_app,
    websocket_routes=[
        path("ws/hand/", HandConsumer.as_asgi()),
        path("ws/dcrf/", DcrfConsumer.as_asgi()),
        path("ws/rpc/", RpcConsumer.as_asgi()),
    ],
)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "websocket" and scope["path"].startswith("/ws/raw/"):
        await raw_app(scope, receive, send)
        return
    await mizan_app(scope, receive, send)
