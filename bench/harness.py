"""Processes of a benchmark run: the servers under test, a private Redis, the load generator,
and the record of the machine they ran on.

Every server is a subprocess on a free 127.0.0.1 port, serving `bench.project.asgi`, stopped
by its pid. Redis is a private redis-server, so benchmark pub/sub never reaches another
process using the machine's Redis (pub/sub channels ignore the database number).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.servers import ROOT, RedisServer, free_port, wait_port

logger = logging.getLogger("bench")

APP = "bench.project.asgi:application"
#: Server kinds: daphne (Twisted), uvicorn on asyncio's loop, uvicorn on uvloop.
SERVERS = ("daphne", "uvicorn", "uvloop")
LAYERS = ("memory", "redis", "pubsub")


@dataclass
class Server:
    """One server process of `kind` with channel layer `layer`."""

    kind: str
    layer: str = "memory"
    redis_url: str = ""
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    log_path: str = ""
    #: Seconds to wait for the port (a server under valgrind takes minutes).
    start_timeout: float = 60.0

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    def url(self, path: str, scheme: str = "ws") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def command(self) -> list[str]:
        if self.kind == "daphne":
            return [
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-v",
                "0",
                APP,
            ]  # fmt: skip  (-v 0: no access log, like uvicorn's --no-access-log)
        loop = "uvloop" if self.kind == "uvloop" else "asyncio"
        return [
            sys.executable,
            "-m",
            "uvicorn",
            APP,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--loop",
            loop,
            "--lifespan",
            "off",
            "--log-level",
            "warning",
            "--no-access-log",
        ]

    def start(self) -> Server:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "bench.project.settings",
            "BENCH_LAYER": self.layer,
            "BENCH_REDIS": self.redis_url,
        }
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (outlives this call, read on failure)
            prefix=f"bench-{self.kind}-{self.layer}-", suffix=".log", delete=False
        )
        self.log_path = log.name
        self.proc = subprocess.Popen(
            self.command(), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_port("127.0.0.1", self.port, self.start_timeout, self.proc)
        except Exception:
            self.stop()
            raise RuntimeError(f"{self.kind} did not start; its output:\n{self.output()}") from None
        return self

    def output(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[-4000:] if self.log_path else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None


class Fleet:
    """Long-lived servers by (kind, layer), started on first use and stopped together."""

    def __init__(self) -> None:
        self.servers: dict[tuple[str, str], Server] = {}
        self.redis: RedisServer | None = None

    def redis_url(self) -> str:
        if self.redis is None:
            if shutil.which("redis-server") is None:
                raise RuntimeError(
                    "the Redis cases need the redis-server binary (apt-get install redis-server)"
                )
            self.redis = RedisServer(free_port())
            self.redis.start()
        return self.redis.url + "/0"

    def fresh(self, kind: str, layer: str = "memory") -> Server:
        """A new server the caller owns (for memory cases, which need a clean heap)."""
        url = self.redis_url() if layer != "memory" else ""
        return Server(kind, layer, url).start()

    def get(self, kind: str, layer: str = "memory") -> Server:
        server = self.servers.get((kind, layer))
        if server is not None and not server.alive():
            logger.warning("%s/%s died; restarting. Output:\n%s", kind, layer, server.output())
            server = None
        if server is None:
            server = self.servers[(kind, layer)] = self.fresh(kind, layer)
        return server

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None


def run_load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run `bench.load` in its own process on `spec`; its JSON result, or {"failed": why}."""
    bound = float(spec.get("timeout_s", 120)) + 30
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.load"],
            input=json.dumps(spec).encode(),
            capture_output=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=bound,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"failed": f"load generator still running after {bound:.0f}s"}
    if done.returncode != 0:
        return {"failed": done.stderr.decode(errors="replace")[-1500:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def machine() -> dict[str, Any]:
    """What the figures depend on: CPU, cores, Python and every package on the path."""
    cpu = platform.processor() or "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    redis_version = "-"
    if shutil.which("redis-server"):
        out = subprocess.run(["redis-server", "--version"], capture_output=True, check=False)
        redis_version = out.stdout.decode().split(" v=")[-1].split()[0]
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, cwd=ROOT, check=False
        )
        .stdout.decode()
        .strip()
    )
    dists = [
        "mizan-channels", "django", "channels", "channels-redis", "daphne", "twisted",
        "pydantic", "pydantic-core", "orjson", "redis", "websockets", "uvicorn", "uvloop",
        "httptools", "djangochannelsrestframework", "channels-rpc", "django-ninja", "psutil",
    ]  # fmt: skip
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "mizan_channels"],
        capture_output=True,
        cwd=ROOT,
        check=False,
    ).stdout.decode()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "redis_server": redis_version,
        "commit": commit,
        # The working tree is what ran: uncommitted changes to the package are recorded.
        "package_dirty": bool(dirty.strip()),
        "versions": {d: _version(d) for d in dists},
    }
