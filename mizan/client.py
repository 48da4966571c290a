"""`mizan.client` is `mizan_channels.client` (see mizan/__init__.py)."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("mizan_channels.client")
