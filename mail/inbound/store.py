"""The inbound messages table: stored once before ``250``, taken by one process, done once.

Every function is one short transaction. ``store`` is idempotent by key (the Message-ID's
hash): a message delivered twice is stored once. ``take`` is a conditional update, so that
several inbound processes on one database never process the same message twice; a message
taken by a process that died is taken again after ``STALE``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from models.tables import InboundMessage, InboundState

STALE = timedelta(minutes=5)
_in = InboundMessage.__table__  # type: ignore[attr-defined]


def message_key(message_id: str, raw: bytes) -> str:
    """The idempotency key: the Message-ID's hash, or the content's when there is none."""
    ident = message_id.strip().strip("<>").strip()
    if ident:
        return hashlib.sha256(b"id:" + ident.encode("utf-8", "replace")).hexdigest()
    return hashlib.sha256(b"raw:" + raw).hexdigest()


def store(engine: Engine, key: str, mail_from: str, rcpt: list[str], raw: bytes) -> int | None:
    """Store a received message, taken for processing by the caller (one transaction, not
    two); its id, or None when a message of that key is stored."""
    now = datetime.now(UTC)
    try:
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            if conn.execute(sa.select(_in.c.id).where(_in.c.key == key)).first():
                return None
            result = conn.execute(
                _in.insert().values(
                    key=key,
                    mail_from=mail_from[:320],
                    rcpt_json=json.dumps(rcpt),
                    raw=raw,
                    state=InboundState.WORKING.value,
                    received_at=now,
                    taken_at=now,
                )
            )
            inserted = result.inserted_primary_key
            return int(inserted[0]) if inserted else None
    except IntegrityError:  # another process stored it at the same moment
        return None


def take(engine: Engine, inbound_id: int) -> tuple[str, list[str], bytes] | None:
    """Take message ``inbound_id`` for processing (envelope sender, recipients, content);
    None if it is done or another process holds it."""
    now = datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        taken = conn.execute(
            _in.update()
            .where(
                _in.c.id == inbound_id,
                sa.or_(
                    _in.c.state == InboundState.PENDING.value,
                    sa.and_(
                        _in.c.state == InboundState.WORKING.value, _in.c.taken_at < now - STALE
                    ),
                ),
            )
            .values(state=InboundState.WORKING.value, taken_at=now)
        )
        if not taken.rowcount:
            return None
        row = conn.execute(
            sa.select(_in.c.mail_from, _in.c.rcpt_json, _in.c.raw).where(_in.c.id == inbound_id)
        ).one()
    return str(row.mail_from), list(json.loads(row.rcpt_json)), bytes(row.raw)


def finish(engine: Engine, inbound_id: int, outcome: str) -> None:
    """Mark message ``inbound_id`` done, with what it was (no personal data)."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(
            _in.update()
            .where(_in.c.id == inbound_id)
            .values(state=InboundState.DONE.value, outcome=outcome, processed_at=datetime.now(UTC))
        )


def waiting(engine: Engine, limit: int = 500) -> list[int]:
    """Messages stored but not processed (a crash, another process gone): to take again."""
    stale = datetime.now(UTC) - STALE
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_in.c.id)
            .where(
                sa.or_(
                    _in.c.state == InboundState.PENDING.value,
                    sa.and_(_in.c.state == InboundState.WORKING.value, _in.c.taken_at < stale),
                )
            )
            .order_by(_in.c.id)
            .limit(limit)
        )
        return [int(r[0]) for r in rows]


def outcomes(engine: Engine) -> dict[str, int]:
    """How many messages of each outcome (pending ones under their state)."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(sa.func.coalesce(_in.c.outcome, _in.c.state), sa.func.count()).group_by(
                sa.func.coalesce(_in.c.outcome, _in.c.state)
            )
        )
        return {str(k): int(n) for k, n in rows}
