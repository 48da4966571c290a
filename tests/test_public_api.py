"""The public surface: what the README names is what `__all__` exports, the seed's import
paths work in either order, and the sans-I/O layers load without Django."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import mizan_channels
from tests.servers import ROOT


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_all_names_resolve() -> None:
    names = mizan_channels.__all__
    assert len(names) == len(set(names)) and {"client", "ReactChannel", "wrap_asgi"} <= set(names)
    for name in names:
        assert getattr(mizan_channels, name) is not None, name


def test_readme_names_every_export() -> None:
    readme = (Path(ROOT) / "README.md").read_text()
    missing = [n for n in mizan_channels.__all__ if not re.search(rf"\b{n}\b", readme)]
    assert not missing, f"README doesn't document {missing}"


def test_seed_import_paths_in_either_order() -> None:
    code = (
        "import django; from django.conf import settings; settings.configure();"
        "import mizan_channels.client, mizan_channels.registry;"
        "from mizan_channels import client, registry;"
        "from mizan_channels.client import client as c2;"
        "assert client is c2 and callable(client), client;"
        "assert type(registry).__name__ == 'Registry', registry"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_sans_io_layers_load_no_django_machinery() -> None:
    """protocol, session, the IR model and the Python client run without settings, ORM,
    HTTP or Channels."""
    code = (
        "import sys; import mizan_channels.protocol, mizan_channels.session, "
        "mizan_channels.ir.model, mizan_channels.remote;"
        "heavy = [m for m in sys.modules if m.split('.')[:2] in (['django', 'conf'], "
        "['django', 'db'], ['django', 'http'], ['channels']) or m == 'channels'];"
        "assert not heavy, heavy"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_public_names_import_before_apps_are_loaded() -> None:
    """asgi.py imports wrap_asgi before get_asgi_application(); models.py may import
    ReactChannel: nothing public may need the app registry at import time."""
    code = (
        "from django.conf import settings;"
        "settings.configure(INSTALLED_APPS=['django.contrib.auth',"
        "'django.contrib.contenttypes', 'channels', 'mizan_channels']);"
        "import mizan_channels as m;"
        "[getattr(m, n) for n in m.__all__];"
        "import mizan_channels.forms, mizan_channels.testing, mizan_channels.remote"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr


def test_the_seed_import_paths_are_this_package() -> None:
    """`mizan` (the seed's spelling) is mizan_channels: `from mizan import client` is the
    decorator even after `from mizan.client import client` imported the submodule."""
    import sys

    import mizan
    from mizan import client, wrap_asgi
    from mizan.client import client as decorator
    from mizan.setup import mizan_clients, register

    assert client is decorator is mizan_channels.client and callable(client)
    assert wrap_asgi is mizan_channels.wrap_asgi
    assert sys.modules["mizan.setup"] is sys.modules["mizan_channels.setup"]
    assert (register, mizan_clients) == (mizan_channels.register, mizan_channels.mizan_clients)
    assert set(mizan.__all__) == set(mizan_channels.__all__)
