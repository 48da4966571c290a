"""Settings for the security suite's daphne processes: the e2e settings plus the limits an
attack test turns (MIZAN_SEC_<NAME> -> MIZAN_<NAME>, as int)."""

from __future__ import annotations

import os

from tests.e2e_settings import *  # noqa: F403

for _name in ("RATE_LIMIT", "RATE_ABUSE_STRIKES", "MAX_FRAME_BYTES", "MAX_SUBSCRIPTIONS"):
    _value = os.environ.get("MIZAN_SEC_" + _name)
    if _value:
        globals()["MIZAN_" + _name] = int(_value)
