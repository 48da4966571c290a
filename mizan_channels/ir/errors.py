"""The export's one error: the registry holds something the IR can't describe."""

from __future__ import annotations

from ..exceptions import ConfigurationError


class IRExportError(ConfigurationError):
    """The registry holds something the IR can't describe; the message says where (the
    function or channel, the field and the type) and what to write instead."""
