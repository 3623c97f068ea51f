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


def known_unsubscribe_token(engine: Engine, token: str) -> bool:
    """Whether ``token`` is someone's unsubscribe token."""
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(_p.c.id).where(_p.c.unsubscribe_token == token)).first()
            is not None
        )


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
