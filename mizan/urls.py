"""`mizan.urls` is `mizan_channels.urls` (see mizan/__init__.py)."""

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers see: the module it stands for
    from mizan_channels.urls import *  # noqa: F403

sys.modules[__name__] = importlib.import_module("mizan_channels.urls")
