"""The index generation: a number that moves after every committed write to the passages.

Cached search results are keyed by it (index.search), so a result cached before a write
is never served after it: a new book, a deleted one, a share or an unshare (a share rewrites
the passages' access fields) all move it. It is a PostgreSQL sequence, and sequences move
outside transactions, so it moves twice. A trigger bumps it with every statement that
writes the passage table (no write path can forget it; the writing transaction then sees
its own writes under a new number). The index services bump it again on commit: a search
that ran meanwhile read the trigger's number with the old rows, and the second bump leaves
what it cached behind. A search between the commit and that bump caches the new rows
under the old number: harmless. Redis is not involved, so an outage of it cannot leave
stale results behind.
"""

from __future__ import annotations

from django.db import connection, transaction

SEQUENCE = "index_passage_generation"


def index_generation() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT last_value + is_called::int FROM {SEQUENCE}")
        (value,) = cursor.fetchone()
    return int(value)


def index_changed() -> None:
    """Call in the transaction that writes passages: the generation moves again once it
    commits (the trigger moved it already)."""
    transaction.on_commit(_bump)


def _bump() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval('{SEQUENCE}')")
