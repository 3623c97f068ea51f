"""Too many requests for one address or from one network are slowed, never dropped in
silence: the caller answers 429 with a page that says when to try again.

Counters are database rows (one per key and window), so every portal process counts the
same; keys are keyed hashes, never an address in the clear. Past windows are deleted by the
periodic purge (``intake.purge``), not by each request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from intake.tokens import keyed
from models.tables import RateCounter

WINDOW = timedelta(minutes=15)
_r = RateCounter.__table__  # type: ignore[attr-defined]


def allowed(
    engine: Engine, key: bytes, what: str, limit: int, *, now: datetime | None = None
) -> bool:
    """Count one request for ``what`` (``signin:address:...``) in the current window;
    whether it is within ``limit``."""
    now = now or datetime.now(UTC)
    start = datetime.fromtimestamp(
        now.timestamp() // WINDOW.total_seconds() * WINDOW.total_seconds(), UTC
    )
    insert = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(_r)
    statement = (
        insert.values(key_hash=keyed(key, what), window_start=start, count=1)
        .on_conflict_do_update(
            index_elements=[_r.c.key_hash, _r.c.window_start], set_={"count": _r.c.count + 1}
        )
        .returning(_r.c.count)
    )
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        count = conn.execute(statement).scalar_one()
    return int(count) <= limit


def retry_after(now: datetime | None = None) -> int:
    """Seconds until the current window ends."""
    now = now or datetime.now(UTC)
    size = WINDOW.total_seconds()
    return int(size - now.timestamp() % size) + 1
