"""What a participant changes for themselves: their name, language and subscription, and
the one-click unsubscribe of bulk mail."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import Participant
from models.vocab import Language

_p = Participant.__table__  # type: ignore[attr-defined]


def unsubscribe(engine: Engine, token: str) -> bool:
    """Stop bulk announcements to the owner of ``token`` (idempotent); False if unknown.

    Transactional mail (sign-in links, acknowledgements, receipts) still reaches them.
    """
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        found = conn.execute(
            _p.update()
            .where(_p.c.unsubscribe_token == token)
            .values(unsubscribed=True, updated_at=datetime.now(UTC))
        )
        return bool(found.rowcount)


def subscribed_by_token(engine: Engine, token: str) -> bool | None:
    """True if the link's owner takes the announcements, False if not, None if the link is
    unknown (or its account was erased)."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_p.c.unsubscribed).where(
                _p.c.unsubscribe_token == token, _p.c.erased_at.is_(None)
            )
        ).first()
    return None if row is None else not row.unsubscribed


def resubscribe(engine: Engine, token: str) -> bool:
    """Take the announcements again from the same link (it came in their own mail); False if
    the link is unknown."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        done = conn.execute(
            _p.update()
            .where(_p.c.unsubscribe_token == token, _p.c.erased_at.is_(None))
            .values(unsubscribed=False, updated_at=datetime.now(UTC))
        )
        return bool(done.rowcount)


def set_preferences(
    engine: Engine, participant_id: int, language: Language, subscribed: bool,
    name: str | None = None,
) -> None:  # fmt: skip
    """A participant's own choices: the language of their mail and pages, whether they take
    announcements, and (when given, already checked as a ``PersonName``) their name."""
    values: dict[str, object] = {
        "language": language.value, "unsubscribed": not subscribed, "updated_at": datetime.now(UTC)
    }  # fmt: skip
    if name:
        values["name"] = name
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(_p.update().where(_p.c.id == participant_id).values(**values))
