"""Publishing that respects database transactions: inside `atomic()`, after commit, once
per key per transaction; on rollback, never; outside a transaction, now.

Clients told to refetch before the commit would read the old rows and then never be told
again, so an event must not leave before the data it announces is visible.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction


def defer(
    key: Hashable, send: Callable[[], Any], using: str = DEFAULT_DB_ALIAS
) -> Callable[[], Any]:
    """Run `send` now, or once at commit of the current transaction per `key`. Returns the
    callable that will run for `key` (an earlier one of this transaction wins), so callers
    can merge into it."""
    conn = connections[using]
    if not conn.in_atomic_block:
        send()
        return send
    state: tuple[Callable[[], None], dict[Hashable, Callable[[], Any]]] | None
    state = getattr(conn, "_mizan_pending", None)
    # Django drops on_commit callbacks on rollback; when ours is gone, so is its batch.
    if state is None or not any(entry[1] is state[0] for entry in conn.run_on_commit):
        pending: dict[Hashable, Callable[[], Any]] = {}

        def flush() -> None:
            for item in pending.values():
                item()

        state = (flush, pending)
        conn._mizan_pending = state  # type: ignore[attr-defined]
        transaction.on_commit(flush, using=using)
    return state[1].setdefault(key, send)
