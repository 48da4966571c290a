"""Fixtures of the security suite: a migrated database file for real daphne processes, and
a trap that sees every log record."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.security.support import LogTrap, migrate, trap_logs


@pytest.fixture(scope="session")
def sec_db() -> Iterator[str]:
    """A migrated SQLite file shared by this suite's daphne processes."""
    with tempfile.TemporaryDirectory(prefix="mizan-sec-") as tmp:
        db = str(Path(tmp) / "db.sqlite3")
        migrate(db)
        yield db


@pytest.fixture
def logs() -> Iterator[LogTrap]:
    yield from trap_logs()
