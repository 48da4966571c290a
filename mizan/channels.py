"""`mizan.channels` is `mizan_channels.channels` (see mizan/__init__.py)."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("mizan_channels.channels")
