"""System checks: misconfiguration is reported at start-up with an id and a hint. An
Error means the project cannot work, a Warning that it works, wrongly.

Ids by group, one module each: 00x secrets and 01x settings (`config`; W018, the channel
layer, in `layers`), 02x declarations (`declarations`), 03x wiring: URLconf and ASGI
(`wiring`). Importing this package registers them all.
"""

from __future__ import annotations

from .config import check_cache, check_secrets, check_settings
from .declarations import check_registry
from .layers import check_layers
from .wiring import check_asgi, check_urls

__all__ = [
    "check_asgi",
    "check_cache",
    "check_layers",
    "check_registry",
    "check_secrets",
    "check_settings",
    "check_urls",
]
