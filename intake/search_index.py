"""SQLite's trigram search index of the registry (``participant_search``, migration
0009_staff) during a bulk write.

Its triggers keep it in step one row at a time, which makes a bulk load of the registry
several times slower (the FTS5 index fed row by row from a trigger: 50,000 rows in 32 s, against
7 s fed by one ``INSERT … SELECT``). ``bulk_indexed`` takes the two triggers that feed it out
for the length of the caller's transaction and feeds the index once for the rows written: the
entries of the addresses about to be written deleted first (with the values they were indexed
with), the new ones added after; then the triggers are put back exactly as they were (their own
SQL, read from ``sqlite_master``), all before the transaction commits, so no reader ever sees
the index out of step, and a failure rolls everything back, triggers included. On PostgreSQL
it does nothing (its trigram indexes are ordinary indexes, migration 0012_registry_trigram).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_FEEDERS = ("participant_search_insert", "participant_search_update")
_TRIGGERS = sa.text(
    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN :names"
).bindparams(sa.bindparam("names", expanding=True))
_FORGET = sa.text(
    "INSERT INTO participant_search(participant_search, rowid, name, email, organization) "
    "SELECT 'delete', id, name, email, organization FROM participant WHERE email IN :emails"
).bindparams(sa.bindparam("emails", expanding=True))
_LEARN = sa.text(
    "INSERT INTO participant_search(rowid, name, email, organization) "
    "SELECT id, name, email, organization FROM participant WHERE email IN :emails"
).bindparams(sa.bindparam("emails", expanding=True))


@contextmanager
def bulk_indexed(conn: Connection, emails: Sequence[str]) -> Iterator[None]:
    """Inside a transaction on ``conn``: write the participants with ``emails`` (inserted or
    updated) in the block; the search index follows them once, at the end of it."""
    if conn.dialect.name != "sqlite" or not emails:
        yield
        return
    feeders = conn.execute(_TRIGGERS, {"names": list(_FEEDERS)}).all()
    if len(feeders) != len(_FEEDERS):  # no index here (a schema before 0009_staff)
        yield
        return
    for name, _ in feeders:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    conn.execute(_FORGET, {"emails": list(emails)})
    yield
    conn.execute(_LEARN, {"emails": list(emails)})
    for _, sql in feeders:
        conn.exec_driver_sql(sql)
