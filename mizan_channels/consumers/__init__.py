"""Socket consumers: the multiplexed socket and the per-channel standalone endpoint.

`MizanConsumer` is imported on first use: it needs Django's apps loaded, and this package is
imported by `mizan_channels.wrap_asgi` before they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .socket import MizanConsumer

__all__ = ["MizanConsumer"]


def __getattr__(name: str) -> Any:
    if name == "MizanConsumer":
        from .socket import MizanConsumer

        return MizanConsumer
    raise AttributeError(f"module 'mizan_channels.consumers' has no attribute {name!r}")
