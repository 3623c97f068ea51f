"""What a participant changes for themselves: their name, language and subscription, and
the one-click unsubscribe of bulk mail."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from intake.tokens import UNSUBSCRIBE_LINK, legacy_unsubscribe, unsubscribe_token
from models.tables import Participant
from models.vocab import Language

_p = Participant.__table__  # type: ignore[attr-defined]


def _owner(conn: Connection, key: bytes, token: str) -> int | None:
    """The participant an unsubscribe token names: a computed ``<id>.<HMAC>`` checked against
    their current generation, else a pre-0011 token found by its keyed hash."""
    link = UNSUBSCRIBE_LINK.fullmatch(token)
    if link:
        pid = int(link.group(1))
        generation = conn.execute(
            sa.select(_p.c.unsubscribe_generation).where(_p.c.id == pid, _p.c.erased_at.is_(None))
        ).scalar()
        if generation is None:
            return None
        expected = unsubscribe_token(key, pid, int(generation))
        return pid if hmac.compare_digest(expected, token) else None
    if not 8 <= len(token) <= 64:
        return None
    found = conn.execute(
        sa.select(_p.c.id).where(
            _p.c.unsubscribe_legacy == legacy_unsubscribe(key, token), _p.c.erased_at.is_(None)
        )
    ).scalar()
    return int(found) if found is not None else None


def unsubscribe_owner(engine: Engine, key: bytes, token: str) -> int | None:
    """The participant whose unsubscribe token is ``token`` (an ARF report names it), or None."""
    with engine.connect() as conn:
        return _owner(conn, key, token)


def unsubscribe(engine: Engine, key: bytes, token: str) -> bool:
    """Stop bulk announcements to the owner of ``token`` (idempotent); False if unknown.

    Transactional mail (sign-in links, acknowledgements, receipts) still reaches them.
    """
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        pid = _owner(conn, key, token)
        if pid is None:
            return False
        conn.execute(
            _p.update()
            .where(_p.c.id == pid)
            .values(unsubscribed=True, updated_at=datetime.now(UTC))
        )
        return True


def known_unsubscribe_token(engine: Engine, key: bytes, token: str) -> bool:
    """Whether ``token`` is someone's unsubscribe token."""
    return unsubscribe_owner(engine, key, token) is not None


def subscribed_by_token(engine: Engine, key: bytes, token: str) -> bool | None:
    """True if the link's owner takes the announcements, False if not, None if the link is
    unknown (or its account was erased)."""
    with engine.connect() as conn:
        pid = _owner(conn, key, token)
        if pid is None:
            return None
        unsubscribed = conn.execute(sa.select(_p.c.unsubscribed).where(_p.c.id == pid)).scalar()
    return not unsubscribed


def resubscribe(engine: Engine, key: bytes, token: str) -> bool:
    """Take the announcements again from the same link (it came in their own mail); False if
    the link is unknown."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        pid = _owner(conn, key, token)
        if pid is None:
            return False
        now = datetime.now(UTC)
        conn.execute(_p.update().where(_p.c.id == pid).values(unsubscribed=False, updated_at=now))
        return True


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
