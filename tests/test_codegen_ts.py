"""The generated client under the real TypeScript toolchain: `tsc --noEmit` (strict) over the
clients of the kitchen-sink IR, example_chat and the test registry plus the conformance file
of `@ts-expect-error` lines, and the hooks' behaviour in vitest + jsdom.

The toolchain is tests/ts (package.json + package-lock.json), installed with
`npm ci --prefix tests/ts`; without node or that install these tests call `need()`.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mizan_channels.codegen import generate, write
from mizan_channels.ir import parse
from mizan_channels.ir.__main__ import export_text
from tests.conftest import need

TS = Path(__file__).parent / "ts"
GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(autouse=True)
def _one_at_a_time() -> Iterator[None]:
    """tests/ts/gen is shared: two pytest runs in one checkout must not regenerate it under
    each other's tsc or vitest."""
    with (TS / "package.json").open("rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _toolchain() -> None:
    if shutil.which("node") is None:
        need("node is not installed (apt-get install nodejs npm)")
    if not (TS / "node_modules" / ".bin" / "tsc").exists():
        need("the TypeScript toolchain is not installed: npm ci --prefix tests/ts")


def _generate_all() -> None:
    gen = TS / "gen"
    for name, text in (
        ("kitchen", (GOLDEN / "kitchen_sink.kdl").read_text(encoding="utf-8")),
        ("chat", (GOLDEN / "example_chat.kdl").read_text(encoding="utf-8")),
        ("testapp", export_text()),
    ):
        write(gen / name, generate(parse(text)))


def _run(*cmd: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(cmd), cwd=TS, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_generated_code_and_conformance_typecheck_under_strict_tsc() -> None:
    _toolchain()
    _generate_all()
    done = _run(str(TS / "node_modules/.bin/tsc"), "--noEmit", "-p", "tsconfig.json", timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr


def test_hooks_behave_in_vitest_and_jsdom() -> None:
    _toolchain()
    _generate_all()
    done = _run(str(TS / "node_modules/.bin/vitest"), "run", timeout=240)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert " passed" in done.stdout


@pytest.mark.parametrize("loosen", ["text: string;", "note: string | null;"])
def test_a_looser_type_fails_the_conformance_file(loosen: str) -> None:
    """The conformance file can fail: loosen one generated type and tsc must object."""
    _toolchain()
    _generate_all()
    types = TS / "gen" / "kitchen" / "types.ts"
    original = types.read_text(encoding="utf-8")
    assert loosen in original
    try:
        types.write_text(original.replace(loosen, loosen.split(":")[0] + ": any;"), "utf-8")
        done = _run(
            str(TS / "node_modules/.bin/tsc"), "--noEmit", "-p", "tsconfig.json", timeout=180
        )
        assert done.returncode != 0
        assert "Unused '@ts-expect-error' directive" in done.stdout
    finally:
        types.write_text(original, "utf-8")


def test_esbuild_bundles_the_generated_client(tmp_path: Path) -> None:
    """What a user's bundler does with the output: every import resolves, Zod included."""
    _toolchain()
    _generate_all()
    out = tmp_path / "chat.js"
    done = _run(
        str(TS / "node_modules/.bin/esbuild"),
        "gen/chat/index.ts",
        "--bundle",
        "--minify",
        "--format=esm",
        "--external:react",
        f"--outfile={out}",
        "--log-level=warning",
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    assert 0 < out.stat().st_size < 200_000  # zod/mini, not the whole of classic Zod
