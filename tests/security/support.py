"""Shared pieces of the security suite: sockets that may be refused, raw frames, log
scrutiny, and real daphne processes with settings the attacks need.

The suite's one rule: every hostile input gets its protocol error, the socket stays usable,
nothing is logged at ERROR, and no traceback or secret reaches the client.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from channels.testing import WebsocketCommunicator

from mizan_channels import protocol
from mizan_channels.testing import MizanCommunicator
from tests.asgi import application
from tests.servers import ROOT, Daphne

WS = "/ws/mizan/"


def raw_socket(headers: list[tuple[bytes, bytes]]) -> WebsocketCommunicator:
    """A socket with exactly these headers (no Origin unless given)."""
    return WebsocketCommunicator(application, WS, headers=headers)


async def send_text(c: WebsocketCommunicator, text: str) -> None:
    await c.send_to(text_data=text)


async def reply(c: MizanCommunicator, frame_id: int | None = None) -> dict[str, Any]:
    """The next reply (`ok`, `err`, `pong`), with `frame_id` when given."""
    return await c.next_frame(
        lambda f: f["t"] in ("ok", "err", "pong") and (frame_id is None or f.get("id") == frame_id)
    )


def assert_clean(frame: dict[str, Any]) -> None:
    """No traceback, exception text or internals in what the client sees."""
    text = protocol.dumps(frame).decode()
    for leak in ("Traceback", 'File "', "secret internals", "Error:", "mizan_channels/"):
        assert leak not in text, (leak, text)


class LogTrap(logging.Handler):
    """Every record of every logger while installed (the root sees them all)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        out = []
        for r in self.records:
            out.append(r.getMessage())
            if r.exc_info:
                out.append(logging.Formatter().formatException(r.exc_info))
        return "\n".join(out)

    def errors(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.levelno >= logging.ERROR]


def trap_logs() -> Iterator[LogTrap]:
    trap = LogTrap()
    root = logging.getLogger()
    old = root.level
    loggers = [logging.getLogger(n) for n in ("mizan_channels", "django", "daphne", "channels")]
    levels = [lg.level for lg in loggers]
    root.addHandler(trap)
    root.setLevel(logging.DEBUG)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    try:
        yield trap
    finally:
        root.removeHandler(trap)
        root.setLevel(old)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


# Real daphne ------------------------------------------------------------------------------


def e2e_env(db: str, **settings: str) -> dict[str, str]:
    """Environment for a daphne process on the security settings (tests/security/
    e2e_settings.py); `settings` become MIZAN_SEC_* variables it reads."""
    env = {
        "MIZAN_E2E_DB": db,
        "DJANGO_SETTINGS_MODULE": "tests.security.e2e_settings",
        "PYTHONPATH": str(ROOT),
    }
    env.update({f"MIZAN_SEC_{k}": v for k, v in settings.items()})
    return env


def migrate(db: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
        env={**os.environ, **e2e_env(db)},
        cwd=ROOT,
        check=True,
        timeout=120,
    )


def manage_shell(db: str, code: str) -> str:
    """Run `code` in a Django shell on the e2e database; its stdout."""
    done = subprocess.run(
        [sys.executable, "-m", "django", "shell", "-v", "0", "-c", code],
        env={**os.environ, **e2e_env(db)},
        cwd=ROOT,
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def daphne(db: str, **settings: str) -> Daphne:
    return Daphne(env=e2e_env(db, **settings))


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")
