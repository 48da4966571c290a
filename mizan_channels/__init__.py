"""mizan-channels: typed realtime for Django.

Public API, imported lazily so that `import mizan_channels` never touches settings or the
app registry (it is imported by `INSTALLED_APPS` loading itself).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# `client` and `registry` share their names with submodules. Importing them here, while the
# package initialises, binds the names to the decorator and the registry for good (a later
# first import of the submodule would otherwise rebind them to the modules). Neither
# touches settings.
from .client import client
from .registry import registry

_EXPORTS: dict[str, str] = {
    "register": "mizan_channels.setup",
    "mizan_clients": "mizan_channels.setup",
    "ReactChannel": "mizan_channels.channels",
    "wrap_asgi": "mizan_channels.consumers.routing",
    "invalidate": "mizan_channels.invalidation",
    "ainvalidate": "mizan_channels.invalidation",
    "ErrorCode": "mizan_channels.exceptions",
    "MizanError": "mizan_channels.exceptions",
    "ConfigurationError": "mizan_channels.exceptions",
    "InvalidParams": "mizan_channels.exceptions",
    "Unauthorized": "mizan_channels.exceptions",
    "Forbidden": "mizan_channels.exceptions",
    "RateLimited": "mizan_channels.exceptions",
}

__all__ = [
    "ConfigurationError",
    "ErrorCode",
    "Forbidden",
    "InvalidParams",
    "MizanError",
    "RateLimited",
    "ReactChannel",
    "Unauthorized",
    "ainvalidate",
    "client",
    "invalidate",
    "mizan_clients",
    "register",
    "registry",
    "wrap_asgi",
]

if TYPE_CHECKING:
    from .channels import ReactChannel
    from .consumers.routing import wrap_asgi
    from .exceptions import (
        ConfigurationError,
        ErrorCode,
        Forbidden,
        InvalidParams,
        MizanError,
        RateLimited,
        Unauthorized,
    )
    from .invalidation import ainvalidate, invalidate
    from .setup import mizan_clients, register


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mizan_channels' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
