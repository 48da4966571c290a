"""The Mizan IR: registry -> typed IR objects -> KDL text, and KDL text -> typed IR objects.

`build_ir()` reads the live registry (so it needs Django set up); `emit()`, `parse()` and the
IR types in `mizan_channels.ir.model` don't touch settings, the ORM or Channels, so a
generator can read a committed document from a plain script. `build_ir` is therefore
imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .kdl import emit, parse
from .model import Document
from .reader import IRSyntaxError

if TYPE_CHECKING:
    from .build import build_ir
    from .errors import IRExportError

__all__ = ["Document", "IRExportError", "IRSyntaxError", "build_ir", "emit", "parse"]


def __getattr__(name: str) -> Any:
    if name == "build_ir":
        from .build import build_ir

        return build_ir
    if name == "IRExportError":
        from .errors import IRExportError

        return IRExportError
    raise AttributeError(f"module 'mizan_channels.ir' has no attribute {name!r}")
