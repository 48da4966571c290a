"""`"mizan"` in INSTALLED_APPS installs the mizan_channels app itself (same label, checks,
static files, template tags and management commands), not a second app."""

from mizan_channels.apps import MizanChannelsConfig


class MizanConfig(MizanChannelsConfig):
    default = True
