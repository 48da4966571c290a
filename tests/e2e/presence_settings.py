"""E2E settings for presence: tests.e2e_settings plus presence timings from the environment
(set by tests/e2e/test_presence_e2e.py), short enough that a test can wait out the bound
within which a killed process's members must vanish."""

from __future__ import annotations

import os

from tests.e2e_settings import *  # noqa: F403

MIZAN_PRESENCE_TTL = float(os.environ.get("MIZAN_E2E_PRESENCE_TTL", "15"))
MIZAN_PRESENCE_HEARTBEAT = float(os.environ.get("MIZAN_E2E_PRESENCE_HEARTBEAT", "5"))
