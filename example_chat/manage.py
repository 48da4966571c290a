#!/usr/bin/env python3
"""Django's command-line utility for the example chat (run from anywhere)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    # The project is the package `example_chat`; its parent (the repository) must be importable
    # whether this file is run as `python example_chat/manage.py` or from inside the folder.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    here = str(Path(__file__).resolve().parent)
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_chat.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
