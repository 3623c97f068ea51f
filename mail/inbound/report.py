"""What came back, for the secretariat: bounces per campaign, suspended participants.

Counts and participant ids; addresses only when asked for explicitly (``addresses=True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from mail.inbound.store import outcomes
from models.tables import MailBounce, MailStanding, OutboxMessage, Participant

_bounce = MailBounce.__table__  # type: ignore[attr-defined]
_standing = MailStanding.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_p = Participant.__table__  # type: ignore[attr-defined]


@dataclass
class Suspended:
    participant_id: int
    reason: str
    address: str | None = None  # only when asked for


@dataclass
class BounceReport:
    """Bounces by campaign and kind, the suspended participants, complaints, inbound counts."""

    per_campaign: dict[str, dict[str, int]] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    suspended: list[Suspended] = field(default_factory=list)
    complaints: int = 0
    inbound: dict[str, int] = field(default_factory=dict)


def bounce_report(
    engine: Engine, *, campaign: str | None = None, addresses: bool = False
) -> BounceReport:
    """The report; ``campaign`` limits the per-campaign part to one campaign."""
    report = BounceReport()
    where = [_bounce.c.campaign_key == campaign] if campaign else []
    with engine.connect() as conn:
        for key, kind, count in conn.execute(
            sa.select(_bounce.c.campaign_key, _bounce.c.kind, sa.func.count())
            .where(*where)
            .group_by(_bounce.c.campaign_key, _bounce.c.kind)
        ):
            report.per_campaign.setdefault(str(key or "(unknown)"), {})[str(kind)] = int(count)
        keys = [k for k in report.per_campaign if k != "(unknown)"]
        if keys:
            for key, count in conn.execute(
                sa.select(_outbox.c.campaign_key, sa.func.count())
                .where(_outbox.c.campaign_key.in_(keys), _outbox.c.state == "sent")
                .group_by(_outbox.c.campaign_key)
            ):
                report.sent[str(key)] = int(count)
        columns = [_standing.c.participant_id, _standing.c.reason]
        query = sa.select(*columns, *([_p.c.email] if addresses else []))
        if addresses:
            query = query.join(_p, _p.c.id == _standing.c.participant_id)
        for row in conn.execute(
            query.where(_standing.c.suspended_at.is_not(None)).order_by(_standing.c.participant_id)
        ):
            report.suspended.append(
                Suspended(int(row[0]), str(row[1] or ""), str(row[2]) if addresses else None)
            )
        report.complaints = int(
            conn.execute(
                sa.select(sa.func.count()).where(_standing.c.complaint_at.is_not(None))
            ).scalar_one()
        )
    report.inbound = outcomes(engine)
    return report
