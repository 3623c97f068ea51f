"""Participants' accounts: sign-up, e-mailed sign-in links and codes, sessions, unsubscribing.

The portal calls these (and the CLI where it acts for a person). Every secret is random,
handed to the person once (in an e-mail or a cookie) and kept only as a hash:

* a sign-in link's token (32 random bytes), for one purpose and one address, about twenty
  minutes, consumed once by a conditional UPDATE (two clicks cannot both sign in);
* its short code, for people who read their mail on another device, tied to the browser that
  asked (a ``pending`` cookie) and refused after a few wrong tries;
* a session's id, in an HttpOnly cookie; signing out deletes the row.

A request for a link answers the same way whether the address is known or not; only a known
address gets a link (no enumeration). The first successful sign-in verifies the participant.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from intake.participants import EmailAddress, RequiredText
from mail.compose import Recipient
from models.tables import Participant, PortalSession, SignInToken
from models.vocab import Language, StakeholderType

SIGN_IN = "sign-in"
LINK_LIFETIME = timedelta(minutes=20)
SESSION_LIFETIME = timedelta(days=7)
MAX_CODE_ATTEMPTS = 5
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand

_p = Participant.__table__  # type: ignore[attr-defined]
_t = SignInToken.__table__  # type: ignore[attr-defined]
_s = PortalSession.__table__  # type: ignore[attr-defined]


def digest(secret: str) -> str:
    """The stored form of a random secret (its SHA-256; the secret has 256 bits)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def keyed(key: bytes, value: str) -> str:
    """A keyed hash (HMAC-SHA-256) of a guessable value: a code, an address in a log line."""
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()


def _code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def normalize_code(text: str) -> str:
    """``abcd efgh`` or ``ABCD-EFGH``: the code as issued."""
    raw = "".join(ch for ch in text.upper() if ch in _CODE_ALPHABET)
    return f"{raw[:4]}-{raw[4:]}" if len(raw) == 8 else ""


class SignUpForm(BaseModel):
    """Who a new participant is: what the WSIS community platform's sign-up asks."""

    name: RequiredText
    organization: str = ""
    country: str = ""
    stakeholder_type: StakeholderType = StakeholderType.OTHER
    language: Language = Language.EN
    email: EmailAddress


@dataclass(frozen=True)
class SignInRequest:
    """What asking for a link produced. ``recipient`` is None for an address nobody has: the
    portal answers the same, sends nothing. ``token`` and ``code`` exist only here."""

    recipient: Recipient | None
    token: str
    code: str
    pending: str


class SignInFailed(Exception):
    """A link or a code that cannot sign anyone in; ``reason`` is one of ``unknown``,
    ``used``, ``expired``, ``wrong-code``, ``too-many-tries``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _issue(conn: sa.Connection, email: str, key: bytes, now: datetime) -> SignInRequest:
    token, code, pending = secrets.token_urlsafe(32), _code(), secrets.token_urlsafe(32)
    row = conn.execute(
        sa.select(_p.c.id, _p.c.email, _p.c.name, _p.c.language, _p.c.unsubscribe_token).where(
            _p.c.email == email
        )
    ).first()
    if row is None:
        return SignInRequest(None, token, code, pending)
    conn.execute(
        _t.insert().values(
            token_hash=digest(token),
            code_hash=keyed(key, f"{pending}:{code}"),
            pending_hash=digest(pending),
            purpose=SIGN_IN,
            participant_id=row.id,
            address_hash=keyed(key, row.email),
            code_attempts=0,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    return SignInRequest(Recipient(*row), token, code, pending)


def request_sign_in(
    engine: Engine, email: str, key: bytes, *, now: datetime | None = None
) -> SignInRequest:
    """Issue a link and a code for ``email`` (already normalized) if a participant has it."""
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        return _issue(conn, email, key, now)


def sign_up(
    engine: Engine, form: SignUpForm, key: bytes, *, now: datetime | None = None
) -> SignInRequest:
    """Register a new participant (unverified until the first sign-in) and issue a link.

    An address someone already has is never changed by a sign-up: its owner just gets a
    link, and the one who asked sees the same page as for a new address.
    """
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        known = conn.execute(sa.select(_p.c.id).where(_p.c.email == form.email)).first()
        if known is None:
            conn.execute(
                _p.insert().values(
                    **form.model_dump(mode="json"),
                    unsubscribed=False,
                    unsubscribe_token=secrets.token_urlsafe(18),
                    created_at=now,
                    updated_at=now,
                )
            )
        return _issue(conn, form.email, key, now)


def _signed_in(conn: sa.Connection, participant_id: int, now: datetime) -> int:
    """The first sign-in verifies the participant."""
    conn.execute(
        _p.update()
        .where(_p.c.id == participant_id, _p.c.verified_at.is_(None))
        .values(verified_at=now, updated_at=now)
    )
    return participant_id


def _check(
    row: sa.Row[tuple[object, ...]] | None, key: bytes, now: datetime, conn: sa.Connection
) -> None:
    if row is None:
        raise SignInFailed("unknown")
    if row.used_at is not None:
        raise SignInFailed("used")
    if row.expires_at <= now or row.purpose != SIGN_IN:
        raise SignInFailed("expired")
    address = conn.execute(sa.select(_p.c.email).where(_p.c.id == row.participant_id)).scalar()
    if address is None or not hmac.compare_digest(keyed(key, address), row.address_hash):
        raise SignInFailed("expired")  # the address changed since: the link was for the old one


def consume_link(engine: Engine, token: str, key: bytes, *, now: datetime | None = None) -> int:
    """Sign in with a link's token: the participant's id, or ``SignInFailed``."""
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        row = conn.execute(sa.select(_t).where(_t.c.token_hash == digest(token))).first()
        _check(row, key, now, conn)
        assert row is not None
        used = conn.execute(
            _t.update().where(_t.c.id == row.id, _t.c.used_at.is_(None)).values(used_at=now)
        )
        if not used.rowcount:
            raise SignInFailed("used")
        return _signed_in(conn, row.participant_id, now)


def consume_code(
    engine: Engine, pending: str, code: str, key: bytes, *, now: datetime | None = None
) -> int:
    """Sign in with the short code typed in the browser that asked for it."""
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        row = conn.execute(
            sa.select(_t)
            .where(_t.c.pending_hash == digest(pending))
            .order_by(_t.c.id.desc())
            .limit(1)
        ).first()
        _check(row, key, now, conn)
        assert row is not None
        if row.code_attempts >= MAX_CODE_ATTEMPTS:
            raise SignInFailed("too-many-tries")
        expected = keyed(key, f"{pending}:{normalize_code(code)}")
        right = hmac.compare_digest(expected, row.code_hash)
        if right:
            used = conn.execute(
                _t.update().where(_t.c.id == row.id, _t.c.used_at.is_(None)).values(used_at=now)
            )
            if not used.rowcount:
                raise SignInFailed("used")
            return _signed_in(conn, row.participant_id, now)
        # A wrong try is counted in a transaction of its own: raising here would roll it back.
        conn.execute(
            _t.update().where(_t.c.id == row.id).values(code_attempts=_t.c.code_attempts + 1)
        )
    raise SignInFailed("wrong-code")


def open_session(engine: Engine, participant_id: int, *, now: datetime | None = None) -> str:
    """A new session for ``participant_id``; returns its id (for the cookie, kept nowhere)."""
    now = now or datetime.now(UTC)
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            _s.insert().values(
                id_hash=digest(session_id),
                participant_id=participant_id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    return session_id


# Built once: every signed-in request asks it.
_SESSION_OWNER = (
    sa.select(_p)
    .join(_s, _s.c.participant_id == _p.c.id)
    .where(_s.c.id_hash == sa.bindparam("id_hash"), _s.c.expires_at > sa.bindparam("now"))
)


def session_participant(
    engine: Engine, session_id: str, *, now: datetime | None = None
) -> Participant | None:
    """Who a session belongs to, while it lasts."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        row = conn.execute(_SESSION_OWNER, {"id_hash": digest(session_id), "now": now}).first()
    return Participant.model_validate(row._mapping) if row else None


def close_session(engine: Engine, session_id: str) -> None:
    """Sign out: the session ends on the server, whatever the browser keeps."""
    with engine.begin() as conn:
        conn.execute(_s.delete().where(_s.c.id_hash == digest(session_id)))


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
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(_p.c.id).where(_p.c.unsubscribe_token == token)).first()
            is not None
        )


def set_preferences(
    engine: Engine, participant_id: int, language: Language, subscribed: bool
) -> None:
    """A participant's own choices: the language of their mail and pages, and whether they
    take announcements."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(
            _p.update()
            .where(_p.c.id == participant_id)
            .values(
                language=language.value, unsubscribed=not subscribed, updated_at=datetime.now(UTC)
            )
        )
