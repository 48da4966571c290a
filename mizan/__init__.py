"""The seed's import paths: `mizan` is mizan-channels under the name the original Mizan
Django adapter used, so its README's examples run as written (`"mizan"` in
`INSTALLED_APPS`, `include("mizan.urls")`, `from mizan import wrap_asgi`,
`from mizan.client import client`, `mizan.setup`, `mizan.channels`, `mizan.forms`).

Each submodule here *is* the mizan_channels module of the same name (one module object under
two names, never a copy), so registries, settings and isinstance checks are shared. New code
can use either spelling; the docs use `mizan_channels`.
"""

from __future__ import annotations

import importlib
from typing import Any

import mizan_channels

__all__ = list(mizan_channels.__all__)

# `mizan.client` names both a submodule and the decorator, as in mizan_channels. Import the
# submodule now, then bind the decorator over it: a later `from mizan.client import client`
# finds the submodule already imported and leaves `mizan.client` the decorator, so
# `from mizan import client` is the decorator whatever was imported first.
importlib.import_module("mizan.client")
from mizan_channels import client as client  # noqa: E402
from mizan_channels import registry as registry  # noqa: E402


def __getattr__(name: str) -> Any:
    return getattr(mizan_channels, name)
