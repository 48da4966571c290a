"""Optional integrations with other Django packages, each behind its own extra.

Nothing here is imported by mizan_channels itself: an integration loads only when a project
enables it, so the core never depends on packages a project didn't install.
"""
