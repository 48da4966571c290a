"""`mizan.urls` is `mizan_channels.urls` (see mizan/__init__.py)."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("mizan_channels.urls")
