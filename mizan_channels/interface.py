"""The digest of the served interface, sent in `hello` so a generated client can tell it was
built from another version of the server's IR.

It is the SHA-256 of the emitted IR text: the same value the code generator bakes into the
client as `IR_DIGEST` (`mizan_channels.codegen.digest`). Computed once per process, on the
first socket, since building the IR walks every declaration.
"""

from __future__ import annotations

import logging
import threading

logger = logging.getLogger("mizan_channels")

_lock = threading.Lock()
_digest: str | None = None


def digest() -> str:
    """The interface digest, or "" when the registry can't be exported (logged once)."""
    global _digest
    if _digest is None:
        with _lock:
            if _digest is None:
                from .codegen import digest as document_digest
                from .ir import build_ir

                try:
                    _digest = document_digest(build_ir())
                except Exception as exc:
                    logger.warning("no IR digest for hello: the registry can't export (%s)", exc)
                    _digest = ""
    return _digest


def forget() -> None:
    """Recompute on next use (the registry changed: tests, autoreload)."""
    global _digest
    _digest = None
