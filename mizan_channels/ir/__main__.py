"""`python -m mizan_channels.ir`: export, check or validate an IR document from the shell.

    python -m mizan_channels.ir export [-o FILE] [--settings MODULE]
    python -m mizan_channels.ir check FILE [--settings MODULE]   exit 1 and a diff when stale
    python -m mizan_channels.ir validate FILE                     parse only; no Django
    python -m mizan_channels.ir diff OLD NEW    every change, breaking or compatible; exit 1
                                                on a breaking one (see ir/diff.py)

`export_text()` and `stale_diff()` are also what `manage.py export_mizan_ir` runs, so the
two entry points can't drift apart. Subcommands are argparse subparsers: add one (a future
`diff OLD NEW`, say) with its own `add_parser` and handler.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .kdl import emit, parse
from .reader import IRSyntaxError

if TYPE_CHECKING:
    from ..registry import Registry

logger = logging.getLogger("mizan_channels")


def export_text(registry: Registry | None = None) -> str:
    """The IR of `registry` (default: the global one) as KDL text."""
    from .build import build_ir

    return emit(build_ir(registry))


def stale_diff(path: Path, text: str, source: str = "from the registry") -> str | None:
    """None when `path` holds exactly `text`, else a unified diff from the file to `text`
    (a missing file counts as empty), `text` labelled by its `source`."""
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        current = ""
    if current == text:
        return None
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=str(path),
            tofile=f"{path} ({source})",
        )
    )


def write(path: Path, text: str) -> None:
    """Write `text` with `\\n` line ends on every platform (the bytes are the contract)."""
    path.write_bytes(text.encode("utf-8"))


def _setup_django(settings: str | None) -> None:
    if settings:
        os.environ["DJANGO_SETTINGS_MODULE"] = settings
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        raise SystemExit(
            "No Django settings: pass --settings myproject.settings or set "
            "DJANGO_SETTINGS_MODULE, so the registry can be loaded."
        )
    import django

    django.setup()


def _export(args: argparse.Namespace) -> int:
    _setup_django(args.settings)
    text = export_text()
    if args.output:
        write(Path(args.output), text)
        logger.info("Wrote the Mizan IR to %s", args.output)
    else:
        sys.stdout.write(text)
    return 0


def _check(args: argparse.Namespace) -> int:
    _setup_django(args.settings)
    diff = stale_diff(Path(args.file), export_text())
    if diff is None:
        return 0
    sys.stdout.write(diff)
    sys.stderr.write(
        f"{args.file} is stale. Regenerate it with "
        f"`python -m mizan_channels.ir export -o {args.file}`.\n"
    )
    return 1


def _validate(args: argparse.Namespace) -> int:
    try:
        parse(Path(args.file).read_text(encoding="utf-8"))
    except IRSyntaxError as exc:
        sys.stderr.write(f"{args.file}: {exc}\n")
        return 1
    return 0


def _diff(args: argparse.Namespace) -> int:
    from .diff import diff

    try:
        old = parse(Path(args.old).read_text(encoding="utf-8"))
        new = parse(Path(args.new).read_text(encoding="utf-8"))
    except (OSError, IRSyntaxError) as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    changes = diff(old, new)
    for change in changes:
        sys.stdout.write(change.line() + "\n")
    breaking = sum(c.breaking for c in changes)
    sys.stderr.write(f"{len(changes)} change(s), {breaking} breaking\n")
    return 1 if breaking else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mizan_channels.ir", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write the registry's IR")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.add_argument("--settings", help="Django settings module")
    export.set_defaults(handler=_export)
    check = sub.add_parser("check", help="exit 1 with a diff when FILE is stale")
    check.add_argument("file")
    check.add_argument("--settings", help="Django settings module")
    check.set_defaults(handler=_check)
    validate = sub.add_parser("validate", help="parse FILE against the grammar")
    validate.add_argument("file")
    validate.set_defaults(handler=_validate)
    diff = sub.add_parser("diff", help="list changes from OLD to NEW; exit 1 if any breaks clients")
    diff.add_argument("old")
    diff.add_argument("new")
    diff.set_defaults(handler=_diff)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
