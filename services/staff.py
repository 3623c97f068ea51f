"""Staff accounts, roles, the second factor (TOTP, RFC 6238) and staff sessions.

A staff member signs in with the portal's e-mailed link (``intake.accounts``: the same
tokens, for the participant row that carries their address), then with a code from an
authenticator app enrolled by a QR code. A staff session ends 30 minutes after its last
request and 8 hours after it began, whatever happens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import segno
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from core.log import get_logger
from intake.tokens import stored
from models.tables import Participant, StaffMember, StaffRole, StaffSession
from models.text import normalize_address
from models.vocab import Language, StakeholderType
from services import audit, sealed
from services.errors import INVALID, Refused

log = get_logger(__name__)
IDLE = timedelta(minutes=30)
LONGEST = timedelta(hours=8)
ISSUER = "WSIS secretariat"

_p = Participant.__table__  # type: ignore[attr-defined]
_m = StaffMember.__table__  # type: ignore[attr-defined]
_s = StaffSession.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Staff:
    """A staff member as the console sees them (the address stays in the database)."""

    id: int
    participant_id: int
    role: str
    name: str
    email: str
    language: str
    enrolled: bool

    @property
    def actor(self) -> str:
        """How the audit log and Temporal updates name them: an id, never an address."""
        return f"staff:{self.id}"


def _role(role: str) -> StaffRole:
    try:
        return StaffRole(role)
    except ValueError:
        known = ", ".join(r.value for r in StaffRole)
        raise Refused(f"--role: {role[:20]!r} is not one of {known}", INVALID) from None


def _address(address: str) -> str:
    email = normalize_address(address).lower()
    if "@" not in email or len(email) > 254:
        raise Refused(f"{address[:60]!r} is not an e-mail address", INVALID)
    return email


_SELECT = sa.select(
    _m.c.id, _m.c.participant_id, _m.c.role, _p.c.name, _p.c.email, _p.c.language,
    _m.c.totp_last_step.is_not(None).label("enrolled"),
).join(_p, _p.c.id == _m.c.participant_id).where(_m.c.removed_at.is_(None))  # fmt: skip


def find(
    engine: Engine, *, address: str | None = None, staff_id: int | None = None
) -> Staff | None:
    """The active staff member with ``address`` or ``staff_id``."""
    query = _SELECT.where(
        _p.c.email == _address(address) if address is not None else _m.c.id == staff_id
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return Staff(**row._mapping) if row else None


def for_participant(engine: Engine, participant_id: int) -> Staff | None:
    """The active staff member whose identity is ``participant_id`` (after an e-mailed link)."""
    with engine.connect() as conn:
        row = conn.execute(_SELECT.where(_m.c.participant_id == participant_id)).first()
    return Staff(**row._mapping) if row else None


def members(engine: Engine) -> list[Staff]:
    """Every active staff member, by role then name."""
    with engine.connect() as conn:
        rows = conn.execute(_SELECT.order_by(_m.c.role, _p.c.name)).all()
    return [Staff(**row._mapping) for row in rows]


def add(engine: Engine, address: str, role: str, *, actor: str, name: str = "") -> Staff:
    """Grant ``role`` to ``address`` (a new account, or a new role for an existing one).

    The address gets a participant row if it has none, unsubscribed from announcements (a
    staff member reads them in the console) and verified (the secretariat vouches)."""
    email, grant = _address(address), _role(role)
    now = datetime.now(UTC)
    insert: Any = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(_p)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(
            insert.values(
                email=email,
                name=name or email.split("@")[0],
                organization="ITU",
                country="Switzerland",
                stakeholder_type=StakeholderType.INTERNATIONAL_ORGANIZATION.value,
                language=Language.EN.value,
                unsubscribed=True,
                unsubscribe_legacy=secrets.token_urlsafe(18),
                verified_at=now,
                created_at=now,
                updated_at=now,
            ).on_conflict_do_nothing(index_elements=[_p.c.email])
        )
        pid = conn.execute(sa.select(_p.c.id).where(_p.c.email == email)).scalar_one()
        current = conn.execute(sa.select(_m).where(_m.c.participant_id == pid)).first()
        if current is None:
            conn.execute(_m.insert().values(participant_id=pid, role=grant.value, created_at=now))
        else:
            conn.execute(
                _m.update().where(_m.c.id == current.id).values(role=grant.value, removed_at=None)
            )
        staff_id = conn.execute(sa.select(_m.c.id).where(_m.c.participant_id == pid)).scalar_one()
        audit.record(
            conn, actor=actor, action="staff.add", target=f"staff:{staff_id}",
            detail={"role": grant.value},
        )  # fmt: skip
    found = find(engine, staff_id=staff_id)
    assert found is not None
    return found


def remove(engine: Engine, address: str, *, actor: str) -> None:
    """Revoke ``address``'s staff account: its sessions end at once."""
    staff = find(engine, address=address)
    if staff is None:
        raise Refused("no staff account for that address")
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(_m.update().where(_m.c.id == staff.id).values(removed_at=datetime.now(UTC)))
        conn.execute(_s.delete().where(_s.c.staff_id == staff.id))
        audit.record(conn, actor=actor, action="staff.remove", target=staff.actor)


# -- The second factor ---------------------------------------------------------------------


def enrolment_secret(engine: Engine, staff_id: int, key: bytes) -> str:
    """The TOTP secret to enrol (made once; kept until a first code confirms it), sealed in
    the database under ``key`` (the portal's key: ``services.sealed``)."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        kept = conn.execute(sa.select(_m.c.totp_sealed).where(_m.c.id == staff_id)).scalar()
        secret = sealed.unseal(key, staff_id, kept) if kept is not None else None
        if kept is not None and secret is None:
            # Sealed under another key (the portal's secret changed): a new one to enrol,
            # but only while nothing was ever confirmed with it (never a second factor reset
            # for an enrolled member by whoever holds their e-mailed link).
            enrolled = conn.execute(
                sa.select(_m.c.totp_last_step.is_not(None)).where(_m.c.id == staff_id)
            ).scalar()
            if enrolled:
                raise Refused("the second factor cannot be read (was the portal's secret changed?)")
        if secret is None:
            secret = pyotp.random_base32()
            conn.execute(
                _m.update()
                .where(_m.c.id == staff_id)
                .values(totp_sealed=sealed.seal(key, staff_id, secret))
            )
    return secret


def reset_second_factor(engine: Engine, address: str, *, actor: str) -> Staff:
    """Forget ``address``'s authenticator (lost, or sealed under a portal secret since
    changed): their sessions end, and their next sign-in by the e-mailed link enrols a new
    one. An operator's act, audit-logged; never offered to whoever holds the link."""
    member = find(engine, address=address)
    if member is None:
        raise Refused("no staff account for that address")
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(
            _m.update().where(_m.c.id == member.id).values(totp_sealed=None, totp_last_step=None)
        )
        conn.execute(_s.delete().where(_s.c.staff_id == member.id))
        audit.record(conn, actor=actor, action="staff.reset_second_factor", target=member.actor)
    found = find(engine, staff_id=member.id)
    assert found is not None
    return found


def enrolment_qr(secret: str, label: str) -> str:
    """The enrolment QR code as inline SVG (an ``otpauth://`` URI an authenticator reads)."""
    uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=ISSUER)
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


def check_code(
    engine: Engine, staff_id: int, code: str, key: bytes, *, now: datetime | None = None
) -> bool:
    """Whether ``code`` is the authenticator's for now (or the step before or after: clocks
    drift); each step's code is accepted once (a conditional UPDATE), and the first one
    accepted confirms the enrolment. The secret is unsealed with ``key`` for this check only."""
    now = now or datetime.now(UTC)
    digits = "".join(ch for ch in code if ch.isdigit())
    if len(digits) != 6:
        return False
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        row = conn.execute(sa.select(_m).where(_m.c.id == staff_id)).first()
        if row is None or row.totp_sealed is None or row.removed_at is not None:
            return False
        secret = sealed.unseal(key, staff_id, row.totp_sealed)
        if secret is None:
            log.warning("staff.totp_unreadable", staff_id=staff_id)
            return False
        totp = pyotp.TOTP(secret)
        step = int(now.timestamp()) // totp.interval
        for candidate in (step - 1, step, step + 1):
            if secrets.compare_digest(totp.at(candidate * totp.interval), digits):
                used = conn.execute(
                    _m.update()
                    .where(
                        _m.c.id == staff_id,
                        sa.or_(_m.c.totp_last_step.is_(None), _m.c.totp_last_step < candidate),
                    )
                    .values(totp_last_step=candidate)
                )
                return bool(used.rowcount)
    return False


# -- Sessions ------------------------------------------------------------------------------


def _kept(key: bytes, session_id: str) -> str:
    """What the database keeps of a console session id: a keyed hash (as the portal's own
    sessions), so a copy of the database cannot be used to take over a staff session."""
    return stored(key, "staff-session", session_id)


def open_session(engine: Engine, staff_id: int, key: bytes, *, now: datetime | None = None) -> str:
    """A session that has passed the link, not yet the second factor; returns its id."""
    now = now or datetime.now(UTC)
    session_id = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            _s.insert().values(
                id_hash=_kept(key, session_id), staff_id=staff_id, created_at=now, last_seen_at=now
            )
        )
    return session_id


def second_factor_given(
    engine: Engine, session_id: str, key: bytes, *, now: datetime | None = None
) -> None:
    """The session has passed the second factor."""
    with engine.begin() as conn:
        conn.execute(
            _s.update()
            .where(_s.c.id_hash == _kept(key, session_id))
            .values(second_factor_at=now or datetime.now(UTC))
        )


@dataclass(frozen=True)
class SignedIn:
    """Who a staff session belongs to, and whether it has passed the second factor."""

    staff: Staff
    complete: bool


def session_staff(
    engine: Engine, session_id: str, key: bytes, *, now: datetime | None = None
) -> SignedIn | None:
    """The staff member of a live session (and the session is touched), or None: unknown,
    idle 30 minutes, older than 8 hours, or the account removed (the row is deleted)."""
    now = now or datetime.now(UTC)
    kept = _kept(key, session_id)
    with engine.connect() as conn, conn.begin():
        row = conn.execute(sa.select(_s).where(_s.c.id_hash == kept)).first()
        if row is None:
            return None
        if now - row.last_seen_at >= IDLE or now - row.created_at >= LONGEST:
            conn.execute(_s.delete().where(_s.c.id_hash == kept))
            return None
        conn.execute(_s.update().where(_s.c.id_hash == kept).values(last_seen_at=now))
    staff = find(engine, staff_id=row.staff_id)
    return SignedIn(staff, row.second_factor_at is not None) if staff else None


def close_session(engine: Engine, session_id: str, key: bytes) -> None:
    """Sign out."""
    with engine.begin() as conn:
        conn.execute(_s.delete().where(_s.c.id_hash == _kept(key, session_id)))
