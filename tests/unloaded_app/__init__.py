"""An app whose clients.py nobody imports (no mizan_clients() call): system check W023."""
