"""The audit log: every staff action, who (a staff id or the CLI's operator, never an
address), what, on what, when, and the internal reason. Append-only (the database refuses
an UPDATE or a DELETE); read newest first, a page at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from models.tables import AuditEntry
from models.text import looks_like_address

_a = AuditEntry.__table__  # type: ignore[attr-defined]
PAGE = 50


@dataclass(frozen=True)
class Entry:
    """One row of the log, as shown and exported."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str
    reason: str
    detail: str


def record(
    db: Engine | Connection,
    *,
    actor: str,
    action: str,
    target: str = "",
    reason: str = "",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append one entry (in ``db``'s transaction when it is a connection). An actor that
    looks like an address is refused: the log names staff by id."""
    if looks_like_address(actor):
        raise ValueError("the audit log names staff by id, never by address")
    values = {
        "at": at or datetime.now(UTC),
        "actor": actor[:80],
        "action": action[:60],
        "target": target[:200],
        "reason": reason[:500],
        "detail": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
    }
    if isinstance(db, Connection):
        db.execute(_a.insert().values(**values))
        return
    with db.begin() as conn:
        conn.execute(_a.insert().values(**values))


def entries(engine: Engine, *, before: int | None = None, limit: int = PAGE) -> list[Entry]:
    """The newest ``limit`` entries older than id ``before`` (keyset pagination)."""
    query = sa.select(_a).order_by(_a.c.id.desc()).limit(limit)
    if before is not None:
        query = query.where(_a.c.id < before)
    with engine.connect() as conn:
        return [Entry(**row._mapping) for row in conn.execute(query)]


def every_entry(engine: Engine, *, batch: int = 1000) -> Iterator[Entry]:
    """The whole log, newest first, read a batch at a time (for an export)."""
    before: int | None = None
    while page := entries(engine, before=before, limit=batch):
        yield from page
        before = page[-1].id
