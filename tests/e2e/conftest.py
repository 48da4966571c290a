"""E2E fixtures: a migrated SQLite file shared by the daphne processes of a module."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import ROOT, Daphne


@pytest.fixture(scope="module")
def e2e_db() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="mizan-e2e-") as tmp:
        db = str(Path(tmp) / "db.sqlite3")
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "MIZAN_E2E_DB": db,
            "DJANGO_SETTINGS_MODULE": "tests.e2e_settings",
        }
        subprocess.run(
            [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
            env=env,
            cwd=ROOT,
            check=True,
            timeout=120,
        )
        yield db


def server(db: str, redis: str = "", port: int | None = None) -> Daphne:
    """A daphne process serving tests.asgi on the e2e database (and Redis, when given)."""
    env = {"MIZAN_E2E_DB": db, "DJANGO_SETTINGS_MODULE": "tests.e2e_settings"}
    if redis:
        env["MIZAN_E2E_REDIS"] = redis
    return Daphne(env=env, port=port)
