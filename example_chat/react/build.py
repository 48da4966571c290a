"""Build the React page of the example: generate the typed client from the live registry,
type-check `main.tsx` against it, and bundle both (with React and the runtime) into one ES
module that `/react/` loads. The tests run exactly this, so the page users read is the page
the browser tests drive.

    python example_chat/react/build.py              # -> example_chat/react/dist/main.js
    python example_chat/react/build.py --no-check   # skip tsc

The node toolchain is the repository's pinned one (`npm ci --prefix tests/ts`): esbuild,
TypeScript, react, react-dom and zod. Work happens in a scratch directory (the generated
client, a copy of main.tsx, a tsconfig), so a build never writes into the sources.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TOOLCHAIN = ROOT / "tests" / "ts" / "node_modules"
DIST = HERE / "dist"

logger = logging.getLogger("example_chat.react")

#: The settings the generated client is held to (docs/codegen.md), and main.tsx with it.
TSCONFIG = """{
  "compilerOptions": {
    "target": "ES2022",
    "lib": ["ES2022", "DOM", "DOM.Iterable"],
    "module": "ESNext",
    "moduleResolution": "bundler",
    "jsx": "react-jsx",
    "strict": true,
    "noUncheckedIndexedAccess": true,
    "noImplicitReturns": true,
    "isolatedModules": true,
    "verbatimModuleSyntax": true,
    "noEmit": true,
    "types": []
  },
  "include": ["main.tsx", "api/**/*.ts"]
}
"""


class BuildError(RuntimeError):
    """A step of the build failed; the message has the step's output."""


def missing_toolchain() -> str | None:
    """Why the build can't run here, or None when it can."""
    if shutil.which("node") is None:
        return "node is not installed (apt-get install nodejs npm)"
    if not (TOOLCHAIN / ".bin" / "esbuild").exists():
        return "the node toolchain is not installed: npm ci --prefix tests/ts"
    return None


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout + proc.stderr


def generate_client(work: Path, env: dict[str, str] | None = None) -> Path:
    """The client of the example's live registry in `work/api`, through the management
    command (what a project runs), with the example's settings."""
    out = work / "api"
    child = {
        **os.environ,
        **(env or {}),
        "DJANGO_SETTINGS_MODULE": "example_chat.settings",
        "PYTHONPATH": str(ROOT),
    }
    manage = [sys.executable, str(ROOT / "example_chat" / "manage.py")]
    _run([*manage, "generate_mizan_client", "--out", str(out)], ROOT, child)
    return out


def prepare(work: Path) -> None:
    """main.tsx, a tsconfig and the pinned node_modules next to the generated client."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "main.tsx", work / "main.tsx")
    (work / "tsconfig.json").write_text(TSCONFIG)
    link = work / "node_modules"
    if not link.exists():
        link.symlink_to(TOOLCHAIN, target_is_directory=True)


def typecheck(work: Path) -> None:
    """`tsc --noEmit` over main.tsx and the generated client, strict."""
    _run([str(TOOLCHAIN / ".bin" / "tsc"), "--noEmit", "-p", "tsconfig.json"], work)


def bundle(work: Path, dist: Path) -> Path:
    """One minified ES module: the page, the generated client, its mizan.js, React."""
    dist.mkdir(parents=True, exist_ok=True)
    out = dist / "main.js"
    _run(
        [
            str(TOOLCHAIN / ".bin" / "esbuild"),
            "main.tsx",
            "--bundle",
            "--format=esm",
            "--platform=browser",
            "--target=es2022",
            "--minify",
            "--sourcemap",
            '--define:process.env.NODE_ENV="production"',
            f"--outfile={out}",
            "--log-level=warning",
        ],
        work,
    )
    return out


def build(
    dist: Path = DIST,
    work: Path | None = None,
    check: bool = True,
    env: dict[str, str] | None = None,
) -> Path:
    """Generate, type-check (unless `check` is off) and bundle; returns the bundle's path."""
    reason = missing_toolchain()
    if reason:
        raise BuildError(f"The React page can't be built: {reason}.")
    scratch = work or Path(tempfile.mkdtemp(prefix="chat-react-"))
    try:
        generate_client(scratch, env)
        prepare(scratch)
        if check:
            typecheck(scratch)
        return bundle(scratch, dist)
    finally:
        if work is None:
            shutil.rmtree(scratch, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=DIST, help=f"output directory ({DIST})")
    parser.add_argument("--no-check", action="store_true", help="skip the tsc type check")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        out = build(args.dist, check=not args.no_check)
    except BuildError as exc:
        logger.error("%s", exc)
        return 1
    logger.info("built %s (%d bytes); serve it at /react/", out, out.stat().st_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
