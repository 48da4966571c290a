from django.apps import AppConfig


class TestAppConfig(AppConfig):
    name = "tests.testapp"
    label = "testapp"

    def ready(self) -> None:
        from mizan_channels.setup import mizan_clients

        mizan_clients("testapp")
        from . import forms  # noqa: F401  (declaring the forms registers their functions)
