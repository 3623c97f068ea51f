"""Counts the status command shows for a process."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import OcpSubmission, OutboxMessage, Participant, Project, StaffMember, Vote
from models.text import normalize_address

_p = Participant.__table__  # type: ignore[attr-defined]
_ocp = OcpSubmission.__table__  # type: ignore[attr-defined]
_out = OutboxMessage.__table__  # type: ignore[attr-defined]
_proj = Project.__table__  # type: ignore[attr-defined]
_vote = Vote.__table__  # type: ignore[attr-defined]
_staff = StaffMember.__table__  # type: ignore[attr-defined]


def not_secretariat(secretariat: str | None) -> sa.ColumnElement[bool]:
    """The registry without the secretariat's own row (it receives the engine's notices, so
    it has one) and without the staff's identities (their sign-in needs one): they are no
    participants, never counted, never in bulk mail."""
    staff: sa.ColumnElement[bool] = _p.c.id.not_in(sa.select(_staff.c.participant_id))
    if not secretariat:
        return staff
    ours: sa.ColumnElement[bool] = sa.and_(
        _p.c.email != normalize_address(secretariat).lower(), staff
    )
    return ours


def registry_size(engine: Engine, secretariat: str | None = None) -> int:
    """Participants who take bulk mail: the size of a campaign to everyone."""
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(
                    _p.c.unsubscribed.is_(sa.false()),
                    _p.c.pending.is_(sa.false()),
                    not_secretariat(secretariat),
                )
            ).scalar_one()
        )


def counts_for(process_id: str, engine: Engine, secretariat: str | None = None) -> dict[str, int]:
    """Participants in the registry (the secretariat left out), and what ``process_id``
    received and sent."""
    with engine.connect() as conn:
        counts = {
            "participants": conn.execute(
                sa.select(sa.func.count())
                .select_from(_p)
                .where(_p.c.pending.is_(sa.false()), not_secretariat(secretariat))
            ).scalar_one(),  # a sign-up nobody confirmed is nobody yet; staff are no participants
        }
        if process_id.endswith("-ocp"):
            counts["submissions"] = conn.execute(
                sa.select(sa.func.count()).where(_ocp.c.process_id == process_id)
            ).scalar_one()
        else:
            counts["projects"] = conn.execute(
                sa.select(sa.func.count()).where(_proj.c.process_id == process_id)
            ).scalar_one()
            counts["nominated"] = conn.execute(
                sa.select(sa.func.count()).where(
                    _proj.c.process_id == process_id, _proj.c.status == "nominated"
                )
            ).scalar_one()
            # How many ballots, never how they split: the results are embargoed.
            counts["votes"] = conn.execute(
                sa.select(sa.func.count()).where(_vote.c.process_id == process_id)
            ).scalar_one()
        counts["emails sent"] = conn.execute(
            sa.select(sa.func.count()).where(
                _out.c.campaign_key.startswith(f"{process_id}:"), _out.c.state == "sent"
            )
        ).scalar_one()
        # Messages given up (5xx, or deferred past the retry loop's three days) and those
        # still waiting to be retried (mail/outbox/retry.py).
        for label, state in (("emails failed", "failed"), ("emails waiting", "pending")):
            counts[label] = conn.execute(
                sa.select(sa.func.count()).where(
                    _out.c.campaign_key.startswith(f"{process_id}:"), _out.c.state == state
                )
            ).scalar_one()
    return counts
