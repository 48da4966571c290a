"""`manage.py export_mizan_ir`: the registry's Mizan IR as KDL, or a staleness check for CI.

manage.py export_mizan_ir                 print the IR
manage.py export_mizan_ir -o api.kdl      write it
manage.py export_mizan_ir --check api.kdl exit 1 and print a diff when api.kdl is stale
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from mizan_channels.ir.__main__ import export_text, stale_diff, write
from mizan_channels.ir.errors import IRExportError


class Command(BaseCommand):
    help = "Export the Mizan IR (KDL) of every registered function, channel and form."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-o", "--output", help="write the IR to this file (default: stdout)")
        parser.add_argument(
            "--check",
            metavar="FILE",
            help="compare FILE with the current IR; exit 1 and print a diff when it is stale",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            text = export_text()
        except IRExportError as exc:
            raise CommandError(f"The Mizan IR can't be exported: {exc}") from None
        check = options.get("check")
        if check:
            diff = stale_diff(Path(check), text)
            if diff is not None:
                self.stdout.write(diff, ending="")
                raise CommandError(
                    f"{check} is stale: the registry's IR differs (diff above). Regenerate "
                    f"it with `manage.py export_mizan_ir -o {check}`.",
                    returncode=1,
                )
            return
        output = options.get("output")
        if output:
            write(Path(output), text)
            self.stderr.write(f"Wrote the Mizan IR to {output}")
        else:
            self.stdout.write(text, ending="")
