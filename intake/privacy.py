"""A participant's rights over their own data (the UN Personal Data Protection and Privacy
Principles; the portal's privacy notice says the same): consent recorded at sign-up, the
profile edited, everything kept about them downloaded, the account deleted.

Deleting an account de-identifies it rather than removing the row: the row keeps its id (so
every vote it cast stays counted and the tally is unchanged) but no name, address,
organization or country; official submissions lose the name, address and telephone of their
sender; the network and browser hash of each vote go; sessions and sign-in links go, and
messages not yet sent are skipped. Projects stay as published (title, organization,
country), owned by the de-identified row.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from intake.fields import Name, OptionalCountry, Organization
from models.tables import (
    BallotReceipt,
    OcpSubmission,
    OutboxMessage,
    OutboxState,
    Participant,
    PortalSession,
    Project,
    SignInToken,
    Vote,
)
from models.vocab import StakeholderType

_p = Participant.__table__  # type: ignore[attr-defined]
_s = OcpSubmission.__table__  # type: ignore[attr-defined]
_proj = Project.__table__  # type: ignore[attr-defined]
_v = Vote.__table__  # type: ignore[attr-defined]
_r = BallotReceipt.__table__  # type: ignore[attr-defined]
_o = OutboxMessage.__table__  # type: ignore[attr-defined]
_sess = PortalSession.__table__  # type: ignore[attr-defined]
_tok = SignInToken.__table__  # type: ignore[attr-defined]
ERASED_DOMAIN = "erased.invalid"  # RFC 2606: never delivered


class Profile(BaseModel):
    """What a participant may change about themselves (the address is their sign-in)."""

    name: Name
    organization: Organization = ""
    country: OptionalCountry = ""  # its ISO 3166 code when it names one
    stakeholder_type: StakeholderType = StakeholderType.OTHER


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def record_consent(engine: Engine, email: str, created_at: datetime) -> None:
    """The privacy notice accepted by whoever signed up just now: only the row that sign-up
    created (its creation time is that of the sign-up), never an existing account."""
    with engine.begin() as conn:
        conn.execute(
            _p.update()
            .where(_p.c.email == email, _p.c.created_at == created_at, _p.c.consented_at.is_(None))
            .values(consented_at=created_at)
        )


def update_profile(
    engine: Engine, participant_id: int, profile: Profile, *, now: datetime | None = None
) -> None:
    with engine.begin() as conn:
        conn.execute(
            _p.update()
            .where(_p.c.id == participant_id, _p.c.erased_at.is_(None))
            .values(**profile.model_dump(mode="json"), updated_at=_now(now))
        )


def my_data(engine: Engine, participant_id: int) -> dict[str, Any]:
    """Everything kept about the participant, as JSON-ready data (the portal's download)."""

    def rows(query: Any, *drop: str) -> list[dict[str, Any]]:
        found = []
        for row in conn.execute(query).mappings():
            found.append({k: _plain(v) for k, v in row.items() if k not in drop})
        return found

    with engine.connect() as conn:
        (me,) = rows(
            sa.select(_p).where(_p.c.id == participant_id),
            "unsubscribe_legacy",
            "unsubscribe_generation",
        )
        return {
            "participant": me,
            "official_submissions": rows(
                sa.select(_s).where(_s.c.participant_id == participant_id), "participant_id"
            ),
            "projects": rows(
                sa.select(_proj).where(_proj.c.owner_id == participant_id),
                "owner_id",
                "title_key",
                "votes",
                "selection_revision",
            ),
            "ballots": rows(sa.select(_r).where(_r.c.voter_id == participant_id), "voter_id"),
            "votes": rows(
                sa.select(
                    _v.c.process_id,
                    _v.c.category,
                    _v.c.project_id,
                    _v.c.cast_at,
                    _v.c.network,
                    _v.c.voided_at,
                ).where(_v.c.voter_id == participant_id)
            ),
        }


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def erase_participant(engine: Engine, participant_id: int, *, now: datetime | None = None) -> None:
    """De-identify the participant and everything that names them (see the module's note)."""
    now = _now(now)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(
            _p.update()
            .where(_p.c.id == participant_id)
            .values(
                email=f"erased-{secrets.token_hex(8)}@{ERASED_DOMAIN}",
                name="",
                organization="",
                country="",
                stakeholder_type=StakeholderType.OTHER.value,
                unsubscribed=True,
                unsubscribe_legacy=secrets.token_urlsafe(18),  # old links die
                unsubscribe_generation=_p.c.unsubscribe_generation + 1,  # and computed ones
                verified_at=None,
                erased_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            _s.update()
            .where(_s.c.participant_id == participant_id)
            .values(full_name="", email="", telephone=None)
        )
        conn.execute(
            _v.update().where(_v.c.voter_id == participant_id).values(network="", agent_hash="")
        )
        conn.execute(_sess.delete().where(_sess.c.participant_id == participant_id))
        conn.execute(_tok.delete().where(_tok.c.participant_id == participant_id))
        # A message still to send is not sent (as for an unsubscribed address).
        conn.execute(
            _o.update()
            .where(_o.c.participant_id == participant_id, _o.c.state == OutboxState.PENDING.value)
            .values(state=OutboxState.SKIPPED.value)
        )
