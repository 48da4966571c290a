"""The example's IR is committed (tests/golden/example_chat.kdl) and must match what the
app exports. Regenerate after changing the example:

    PYTHONPATH=. DJANGO_SETTINGS_MODULE=example_chat.settings \\
        python example_chat/manage.py export_mizan_ir -o tests/golden/example_chat.kdl
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.servers import ROOT


def test_committed_ir_is_current() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "example_chat.settings"}
    result = subprocess.run(
        [
            sys.executable,
            "example_chat/manage.py",
            "export_mizan_ir",
            "--check",
            "tests/golden/example_chat.kdl",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
