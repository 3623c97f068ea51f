"""Participants' accounts: sign-up, e-mailed sign-in links and codes.

The portal calls these (and the CLI where it acts for a person). Every secret is random,
handed to the person once and kept only as a keyed hash (``intake.tokens``):

* a sign-in link's token (32 random bytes), for one purpose and one address, twenty
  minutes, consumed once by a conditional UPDATE (two clicks cannot both sign in);
* its short code, for people who read their mail on another device, tied to the browser that
  asked (a ``pending`` cookie), each try claimed by one atomic UPDATE before it is compared,
  so that five wrong tries end it on every database, under any concurrency.

A request for a link takes the same path whether the address is known or not: an unknown one
leaves a decoy row (no participant, a code nobody was sent), so the code form then answers
"wrong code", and "too many tries", alike. Only a known address gets a link.

A sign-up is nobody's address until its first sign-in (``Participant.pending``): it gets no
bulk mail, is not counted, is greeted by no name, and is purged once its link has expired.
The first sign-in through a link or its code confirms it and verifies the participant.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from intake.fields import EmailAddress, OptionalCountry, Organization, PersonName
from intake.sessions import close_session, open_session
from intake.tokens import (
    LINK_LIFETIME,
    MAX_CODE_ATTEMPTS,
    SignInFailed,
    digest,
    keyed,
    new_code,
    normalize_code,
    stored,
)
from mail.compose import Recipient
from models.tables import Participant, SignInToken
from models.vocab import Language, StakeholderType

__all__ = [
    "LINK_LIFETIME",
    "MAX_CODE_ATTEMPTS",
    "SIGN_IN",
    "SignInFailed",
    "SignInRequest",
    "SignUpForm",
    "close_session",
    "consume_code",
    "consume_link",
    "digest",
    "keyed",
    "normalize_code",
    "open_session",
    "request_sign_in",
    "sign_up",
]

SIGN_IN = "sign-in"

_p = Participant.__table__  # type: ignore[attr-defined]
_t = SignInToken.__table__  # type: ignore[attr-defined]


class SignUpForm(BaseModel):
    """Who a new participant is: what the WSIS community platform's sign-up asks."""

    name: PersonName
    organization: Organization = ""
    country: OptionalCountry = ""
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


def _issue(conn: sa.Connection, email: str, key: bytes, now: datetime) -> SignInRequest:
    token, code, pending = secrets.token_urlsafe(32), new_code(), secrets.token_urlsafe(32)
    row = conn.execute(
        sa.select(
            _p.c.id, _p.c.email, _p.c.name, _p.c.language, _p.c.unsubscribe_generation, _p.c.pending
        ).where(_p.c.email == email)
    ).first()
    conn.execute(
        _t.insert().values(
            token_hash=stored(key, "signin", token),
            # A decoy's code hash matches no code: it is keyed with a value nobody has.
            code_hash=keyed(key, f"{pending}:{code}" if row else secrets.token_hex(32)),
            pending_hash=stored(key, "pending", pending),
            purpose=SIGN_IN,
            participant_id=row.id if row else None,
            address_hash=keyed(key, email),
            code_attempts=0,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    if row is None:
        return SignInRequest(None, token, code, pending)
    # A name nobody confirmed is never written to anyone: no greeting, no display name.
    name = "" if row.pending else row.name
    return SignInRequest(
        Recipient(row.id, row.email, name, row.language, row.unsubscribe_generation),
        token, code, pending,
    )  # fmt: skip


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
    """Register a pending participant (confirmed by the first sign-in) and issue a link.

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
                    unsubscribe_legacy=secrets.token_urlsafe(18),
                    pending=True,
                    created_at=now,
                    updated_at=now,
                )
            )
        return _issue(conn, form.email, key, now)


def _signed_in(conn: sa.Connection, participant_id: int, now: datetime) -> int:
    """The first sign-in confirms a sign-up and verifies the participant."""
    conn.execute(
        _p.update()
        .where(_p.c.id == participant_id, _p.c.verified_at.is_(None))
        .values(verified_at=now, pending=False, updated_at=now)
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
    if row.participant_id is None:
        return  # a decoy: its code never matches (its link was never sent)
    address = conn.execute(sa.select(_p.c.email).where(_p.c.id == row.participant_id)).scalar()
    if address is None or not hmac.compare_digest(keyed(key, address), row.address_hash):
        raise SignInFailed("expired")  # the address changed since: the link was for the old one


def _use(conn: sa.Connection, row: sa.Row[tuple[object, ...]], now: datetime) -> int:
    used = conn.execute(
        _t.update().where(_t.c.id == row.id, _t.c.used_at.is_(None)).values(used_at=now)
    )
    if not used.rowcount or row.participant_id is None:
        raise SignInFailed("used")
    return _signed_in(conn, int(row.participant_id), now)


def consume_link(engine: Engine, token: str, key: bytes, *, now: datetime | None = None) -> int:
    """Sign in with a link's token: the participant's id, or ``SignInFailed``."""
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        row = conn.execute(
            sa.select(_t).where(_t.c.token_hash == stored(key, "signin", token))
        ).first()
        _check(row, key, now, conn)
        if row is None or row.participant_id is None:
            raise SignInFailed("unknown")  # a decoy's link was never sent to anyone
        return _use(conn, row, now)


def consume_code(
    engine: Engine, pending: str, code: str, key: bytes, *, now: datetime | None = None
) -> int:
    """Sign in with the short code typed in the browser that asked for it."""
    now = now or datetime.now(UTC)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        row = conn.execute(
            sa.select(_t)
            .where(_t.c.pending_hash == stored(key, "pending", pending))
            .order_by(_t.c.id.desc())
            .limit(1)
        ).first()
        _check(row, key, now, conn)
        assert row is not None
        # The try is claimed before the code is compared, in one statement: concurrent
        # tries cannot all read the same count (PostgreSQL runs them in parallel).
        claimed = conn.execute(
            _t.update()
            .where(_t.c.id == row.id, _t.c.code_attempts < MAX_CODE_ATTEMPTS)
            .values(code_attempts=_t.c.code_attempts + 1)
            .returning(_t.c.code_attempts)
        ).first()
        if claimed is None:
            raise SignInFailed("too-many-tries")
        expected = keyed(key, f"{pending}:{normalize_code(code)}")
        if hmac.compare_digest(expected, row.code_hash):
            return _use(conn, row, now)
        # Leaving the block commits the claimed try; raising inside it would roll it back.
    raise SignInFailed("wrong-code")
