"""App config of the bench project: registers its `@client` functions like a user's app."""

from __future__ import annotations

from django.apps import AppConfig


class BenchConfig(AppConfig):
    name = "bench.project"
    label = "bench_project"

    def ready(self) -> None:
        from mizan_channels.setup import mizan_clients

        mizan_clients("bench_project")
