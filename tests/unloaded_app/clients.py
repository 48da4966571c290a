"""Never imported by the suite: system check W023 must find it without importing it."""

from __future__ import annotations

from mizan_channels import client


@client
def forgotten(request) -> int:  # type: ignore[no-untyped-def]
    return 1
