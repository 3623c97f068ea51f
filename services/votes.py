"""The secretariat's review of a vote before its tally: votes per day and per category, the
suspicious clusters (network prefix, agent hash, time span), voiding with an internal reason,
and the SHA-256 of the valid votes before and after. The CLI's ``votes counts|clusters|void``
and the console's vote review are fronts over these.

Counts only, never per project, except to the secretariat in a cluster (the evidence names
the project it favours). Voided votes keep their reason and leave the tally and its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from activities.prizes import ballot_hash
from intake.fields import REASON_LIMIT
from intake.votes import void_votes
from intake.windows import Refused as IntakeRefused
from models.tables import Vote, Window, WindowKind
from models.text import clean_line
from reports.votes import Cluster, VoteCounts, suspicious_clusters, vote_counts
from services import audit
from services.errors import INVALID, Refused

_v = Vote.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]

__all__ = [
    "Cluster",
    "Voided",
    "VoteCounts",
    "clusters",
    "contests",
    "counts",
    "valid_hash",
    "void",
]


def contests(engine: Engine) -> list[str]:
    """The contests with a voting window (newest first)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(_w.c.process_id)
                .where(_w.c.kind == WindowKind.VOTING.value)
                .order_by(_w.c.opens_at.desc())
            ).scalars()
        )


def counts(engine: Engine, process_id: str) -> VoteCounts:
    """Votes per day (UTC) and per category, and how many were voided."""
    return vote_counts(process_id, engine)


def clusters(
    engine: Engine,
    process_id: str,
    *,
    within: timedelta = timedelta(minutes=10),
    min_voters: int = 10,
    new_within: timedelta = timedelta(days=7),
) -> list[Cluster]:
    """Many new accounts voting alike from one network within minutes: evidence, not a
    verdict."""
    return suspicious_clusters(
        process_id, engine, within=within, min_voters=min_voters, new_within=new_within
    )


def valid_hash(engine: Engine, process_id: str) -> str:
    """SHA-256 of the votes not voided, as the tally computes it (every ballot counting)."""
    with engine.connect() as conn:
        ballots = conn.execute(
            sa.select(_v.c.voter_id, _v.c.category, _v.c.project_id).where(
                _v.c.process_id == process_id, _v.c.voided_at.is_(None)
            )
        ).all()
    return ballot_hash(ballots)


@dataclass(frozen=True)
class Voided:
    """What a void did: how many votes, and the valid votes' hash before and after."""

    count: int
    before: str
    after: str


def void(
    engine: Engine,
    process_id: str,
    *,
    reason: str,
    network: str,
    actor: str,
    since: datetime | None = None,
    until: datetime | None = None,
    project_id: int | None = None,
) -> Voided:
    """Void the votes from ``network`` (in a time span, for a project) with an internal
    reason, before the tally; the audit log keeps who, why and the hashes."""
    why = clean_line(reason)
    if not why or len(why) > REASON_LIMIT:
        raise Refused(f"give a reason of at most {REASON_LIMIT} characters", INVALID)
    net = clean_line(network)[:50]
    if not net:
        raise Refused("say which network, e.g. 203.0.113.0/24", INVALID)
    before = valid_hash(engine, process_id)
    try:
        done = void_votes(
            process_id, engine, reason=why, network=net, since=since, until=until,
            project_id=project_id,
        )  # fmt: skip
    except IntakeRefused as exc:
        raise Refused(f"{process_id}: refused: {exc}") from None
    after = valid_hash(engine, process_id)
    audit.record(
        engine, actor=actor, action="votes.void", target=process_id, reason=why,
        detail={"network": net, "count": done, "before": before, "after": after,
                "project": project_id, "from": since, "to": until},
    )  # fmt: skip
    return Voided(done, before, after)
