"""`mizan.forms` is `mizan_channels.forms` (see mizan/__init__.py)."""

import importlib
import sys

sys.modules[__name__] = importlib.import_module("mizan_channels.forms")
