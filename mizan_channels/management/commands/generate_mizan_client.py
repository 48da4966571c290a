"""`manage.py generate_mizan_client --out DIR [--check]`: the typed React client of this project.

The registry is exported to IR text and parsed back through the typed IR parser before any
file is generated, so this command and `python -m mizan_channels.codegen` (which reads a
committed IR document) produce the same bytes from the same registry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mizan_channels.codegen import CodegenError, generate
from mizan_channels.codegen.__main__ import run
from mizan_channels.ir import parse
from mizan_channels.ir.__main__ import export_text
from mizan_channels.ir.types import IRExportError


class Command(BaseCommand):
    help = "Generate the typed TypeScript/React client (types, Zod, calls, hooks, forms)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, help="directory to write the client into")
        parser.add_argument(
            "--check", action="store_true", help="write nothing; exit 1 with a diff when stale"
        )
        parser.add_argument(
            "--runtime-import",
            metavar="SPECIFIER",
            help="import the runtime from here instead of copying mizan.js into --out",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            files = generate(parse(export_text()), options.get("runtime_import"))
        except (IRExportError, CodegenError) as exc:
            raise CommandError(f"The Mizan client can't be generated: {exc}") from None
        out = Path(options["out"])
        code = run(
            files, out, bool(options.get("check")), f"manage.py generate_mizan_client --out {out}"
        )
        if code:
            raise CommandError(f"{out} is stale.", returncode=code)
