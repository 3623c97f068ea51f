"""What the secretariat sees of a vote while it runs, and a voter's receipt.

Counts only before the tally: votes per day and per category, never per project (the
results are embargoed until the ceremony). The review of "valid votes" looks for clusters:
many new accounts voting the same way from one network within minutes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import BallotReceipt, Participant, Project, Vote, Window, WindowKind
from models.window_rules import WindowRules
from models.wire import CampaignRequest

_v = Vote.__table__  # type: ignore[attr-defined]
_p = Project.__table__  # type: ignore[attr-defined]
_r = BallotReceipt.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]
_who = Participant.__table__  # type: ignore[attr-defined]


def category_names(process_id: str, engine: Engine) -> dict[str, str]:
    """Category code -> its name, as the contest's voting window carries them
    (``WindowRules.names``: in every language the cycle file gave)."""
    with engine.connect() as conn:
        rules = conn.execute(
            sa.select(_w.c.rules_json).where(
                _w.c.process_id == process_id, _w.c.kind == WindowKind.VOTING.value
            )
        ).scalar()
    return WindowRules.parse(rules).names()


def receipt_context(request: CampaignRequest, engine: Engine) -> dict[str, Any]:
    """A receipt e-mail's template context: the code, when, and each category's project."""
    names = category_names(request.process_id, engine)
    with engine.connect() as conn:
        receipt = conn.execute(sa.select(_r).where(_r.c.id == request.subject_id)).one()
        votes = conn.execute(
            sa.select(_v.c.category, _p.c.title)
            .join(_p, _p.c.id == _v.c.project_id)
            .where(_v.c.ballot_id == receipt.id)
            .order_by(_v.c.category)
        ).all()
    return {
        "receipt": {
            "code": receipt.code,
            "cast_at": receipt.cast_at,
            "votes": [
                {"category": c, "category_name": names.get(c, c), "title": t} for c, t in votes
            ],
        }
    }


@dataclass(frozen=True)
class VoteCounts:
    """Votes so far: per day (UTC) and per category; the voided ones apart."""

    by_day: dict[str, int]
    by_category: dict[str, int]
    voided: int

    @property
    def total(self) -> int:
        return sum(self.by_category.values())


def vote_counts(process_id: str, engine: Engine) -> VoteCounts:
    """Counts only, never per project: what may be shown before the tally."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_v.c.cast_at, _v.c.category, _v.c.voided_at).where(
                _v.c.process_id == process_id
            )
        ).all()
    by_day: dict[str, int] = defaultdict(int)
    by_category: dict[str, int] = defaultdict(int)
    voided = 0
    for cast_at, category, void in rows:
        if void is not None:
            voided += 1
            continue
        by_day[cast_at.date().isoformat()] += 1
        by_category[category] += 1
    return VoteCounts(dict(sorted(by_day.items())), dict(sorted(by_category.items())), voided)


@dataclass(frozen=True)
class Cluster:
    """Many new accounts voting the same way from one network within minutes."""

    network: str
    category: str
    project_id: int
    first: datetime
    last: datetime
    voters: int


def suspicious_clusters(
    process_id: str,
    engine: Engine,
    *,
    within: timedelta = timedelta(minutes=10),
    min_voters: int = 10,
    new_within: timedelta = timedelta(days=7),
) -> list[Cluster]:
    """Runs of at least ``min_voters`` votes for one project from one network, each within
    ``within`` of the first, by accounts verified at most ``new_within`` before they voted.
    Evidence for the secretariat's review, not a verdict: they decide what to void."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                _v.c.network, _v.c.category, _v.c.project_id, _v.c.cast_at, _who.c.verified_at
            )
            .join(_who, _who.c.id == _v.c.voter_id)
            .where(_v.c.process_id == process_id, _v.c.voided_at.is_(None), _v.c.network != "")
            .order_by(_v.c.network, _v.c.project_id, _v.c.cast_at)
        ).all()
    runs: dict[tuple[str, str, int], list[datetime]] = defaultdict(list)
    for network, category, project_id, cast_at, verified_at in rows:
        new = verified_at is not None and cast_at - verified_at <= new_within
        if new:
            runs[(network, category, project_id)].append(cast_at)
    clusters = []
    for (network, category, project_id), times in runs.items():
        start = 0
        while start < len(times):
            end = start
            while end + 1 < len(times) and times[end + 1] - times[start] <= within:
                end += 1
            if end - start + 1 >= min_voters:
                clusters.append(
                    Cluster(
                        network, category, project_id, times[start], times[end], end - start + 1
                    )
                )
                start = end + 1
            else:
                start += 1
    return sorted(clusters, key=lambda c: (-c.voters, c.first))
