"""Real processes for tests and benchmarks: redis-server and daphne, started on free ports on
127.0.0.1 and stopped by pid. Waiting is on the event (a port accepting), with a deadline."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _prctl() -> Any:
    if sys.platform != "linux":
        return None
    import ctypes

    return ctypes.CDLL(None, use_errno=True).prctl  # resolved here: no dlopen after fork


_PRCTL = _prctl()


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the test run that started it dies without
    stopping it (SIGKILL, a killed CI job), instead of living on as an orphan on its port.
    The signal follows the thread that started the server: start servers from the main
    thread (fixtures do)."""
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_port(
    host: str, port: int, deadline_s: float, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Return once `port` accepts connections; raise if the process dies or time runs out."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # polling a port: there is no event to await across processes
    raise TimeoutError(f"nothing listening on {host}:{port} after {deadline_s}s")


class RedisServer:
    """A private redis-server (no persistence) that a test may kill and restart."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir = tempfile.mkdtemp(prefix="mizan-redis-")

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        wait_port("127.0.0.1", self.port, 10, self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        """Kill it for good and remove its working directory (`kill` keeps it for a restart)."""
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Daphne:
    """`daphne <app>` on a free port, in its own process, with extra environment."""

    def __init__(
        self,
        app: str = "tests.asgi:application",
        env: dict[str, str] | None = None,
        port: int | None = None,
        cwd: Path = ROOT,
    ) -> None:
        self.app = app
        self.port = port or free_port()
        self.env = {**os.environ, "PYTHONPATH": str(cwd), **(env or {})}
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (lives as long as the server)
            prefix="daphne-", suffix=".log", delete=False
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, deadline_s: float = 30) -> Daphne:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), self.app],
            env=self.env,
            cwd=self.cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        wait_port("127.0.0.1", self.port, deadline_s, self.proc)
        return self

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> Daphne:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.terminate()
