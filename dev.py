#!/usr/bin/env python3
"""The two commands of the quick start, each doing its own set-up.

    python3 dev.py chat     # the example chat under daphne on http://127.0.0.1:8000
    python3 dev.py test     # the whole test suite (extra arguments go to pytest)

Set-up: a virtualenv in .venv with this package and its `dev` extra installed (redone only
when pyproject.toml changes). `chat` migrates the example's SQLite database and creates the
demo users. `test` installs the pinned TypeScript toolchain when npm is there, then runs
pytest, which starts a private redis-server when none answers on 127.0.0.1:6379.
Needs only Python >= 3.11 and pip; Redis, Chromium and npm are used when present
(`apt-get install redis-server chromium nodejs npm`), and their tests skip with a reason
otherwise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"
STAMP = VENV / ".mizan-installed"


def log(message: str) -> None:
    sys.stderr.write(f"[dev] {message}\n")


def ensure_env() -> None:
    """Create .venv and install the project into it, once per pyproject.toml version."""
    if sys.version_info < (3, 11):  # noqa: UP036 (run by whatever python3 the user has)
        sys.exit("mizan-channels needs Python 3.11 or newer.")
    if not PY.exists():
        log("creating .venv")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == digest:
        return
    log("installing mizan-channels[dev] into .venv (first run takes a minute)")
    pip = [str(PY), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    quiet = {**os.environ, "PYTHONWARNINGS": "ignore"}  # setuptools' editable-install chatter
    subprocess.run([*pip, "--upgrade", "pip"], check=True, env=quiet)
    subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True, env=quiet)
    STAMP.write_text(digest)


def run(*args: str, env: dict[str, str] | None = None) -> int:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(list(args), cwd=ROOT, env=full_env).returncode


def chat(argv: list[str]) -> int:
    example = ROOT / "example_chat" / "manage.py"
    if not example.exists():
        log("the example chat is not in this checkout yet (example_chat/manage.py).")
        return 0
    manage = [str(PY), str(example)]
    env = {"DJANGO_SETTINGS_MODULE": "example_chat.settings"}
    if run(*manage, "migrate", "--noinput", "-v", "0", env=env) != 0:
        return 1
    if run(*manage, "seed_demo", env=env) != 0:
        return 1
    port = argv[0] if argv else os.environ.get("PORT", "8000")
    log(f"example chat on http://127.0.0.1:{port}/  (Ctrl-C stops it)")
    try:
        return run(
            str(PY),
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            port,
            "example_chat.asgi:application",
            env=env,
        )
    except KeyboardInterrupt:
        return 0


def test(argv: list[str]) -> int:
    ts = ROOT / "tests" / "ts"
    if shutil.which("npm") and not (ts / "node_modules").exists():
        log("installing the TypeScript toolchain for the generated-client tests (npm ci)")
        subprocess.run(["npm", "ci", "--prefix", str(ts), "--no-audit", "--no-fund"], check=False)
    return run(str(PY), "-m", "pytest", *argv)


def main() -> int:
    commands = {"chat": chat, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.stderr.write(__doc__ or "")
        return 2
    ensure_env()
    return commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
