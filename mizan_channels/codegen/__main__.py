"""`python -m mizan_channels.codegen IR.kdl -o DIR [--check]`: generate the typed client.

No Django is loaded: the committed IR document is the only input. `--check` writes nothing,
prints a unified diff and exits 1 when DIR is stale (for CI); a bad document or a name
collision exits 2 with the reason.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ..ir import IRSyntaxError, parse
from . import CodegenError, generate, stale, write

logger = logging.getLogger("mizan_channels")


def run(files: dict[str, str], out: Path, check: bool, regenerate: str) -> int:
    """Shared by this CLI and `manage.py generate_mizan_client`: write or check `files`."""
    if check:
        diff = stale(out, files)
        if not diff:
            return 0
        sys.stdout.write(diff)
        sys.stderr.write(
            f"The client in {out} is stale (diff above). Regenerate it with `{regenerate}`.\n"
        )
        return 1
    written = write(out, files)
    logger.info(
        "%s: %d file(s) written, %d unchanged", out, len(written), len(files) - len(written)
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mizan_channels.codegen", description=__doc__)
    parser.add_argument("ir", help="the Mizan IR document (KDL)")
    parser.add_argument("-o", "--out", required=True, help="directory to write the client into")
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff when stale")
    parser.add_argument(
        "--runtime-import",
        metavar="SPECIFIER",
        help='import the runtime from here (e.g. "/static/mizan_channels/mizan.js") instead '
        "of copying mizan.js next to the generated files",
    )
    args = parser.parse_args(argv)
    try:
        doc = parse(Path(args.ir).read_text(encoding="utf-8"))
        files = generate(doc, args.runtime_import)
    except (OSError, IRSyntaxError, CodegenError) as exc:
        sys.stderr.write(f"{args.ir}: {exc}\n")
        return 2
    regenerate = f"python -m mizan_channels.codegen {args.ir} -o {args.out}"
    return run(files, Path(args.out), args.check, regenerate)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
