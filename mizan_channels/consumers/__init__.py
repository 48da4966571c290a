"""Socket consumers: the multiplexed socket and the per-channel standalone endpoint."""

from __future__ import annotations

from .socket import MizanConsumer

__all__ = ["MizanConsumer"]
