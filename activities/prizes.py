"""Prize contest activities: eligibility, nominations, the tally and the expert selection.

The tie rule of the shortlist: a category's shortlist holds its ``shortlist_size`` most-voted
nominated projects; projects tied on valid votes with the last place are all shortlisted (no
project is dropped by a coin toss or by its submission time), and a project without a valid
vote is never shortlisted. Results never leave the database through the workflow: the tally
returns project ids, not vote counts (embargo until the ceremony).
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio import activity

from models.plan import BallotRule
from models.tables import PrizeTally, Project, ProjectStatus, Vote
from models.wire import (
    EligibilityResult,
    NominationResult,
    ProcessRef,
    Shortlist,
    TallyRequest,
    WinnerRequest,
)

_p = Project.__table__  # type: ignore[attr-defined]
_v = Vote.__table__  # type: ignore[attr-defined]
_t = PrizeTally.__table__  # type: ignore[attr-defined]


def ballot_hash(ballots: Iterable[Sequence[Any]]) -> str:
    """SHA-256 of exactly these (voter, category, project) votes, in a fixed order: what the
    tally records of what it counted."""
    lines = sorted(f"{voter},{category},{project}" for voter, category, project in ballots)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def shortlist_of(ranked: list[tuple[int, int]], size: int) -> list[int]:
    """Project ids of the shortlist from (project id, valid votes), by the tie rule above."""
    voted = sorted((r for r in ranked if r[1] > 0), key=lambda r: (-r[1], r[0]))
    if len(voted) <= size:
        return [pid for pid, _ in voted]
    cut = voted[size - 1][1]
    return [pid for pid, votes in voted if votes >= cut]


def _immediate(engine: Engine) -> sa.Connection:
    return engine.connect().execution_options(sqlite_immediate=True)


class PrizeActivities:
    """Database steps of a prize contest; each is idempotent, so retries are safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn
    def check_eligibility(self, ref: ProcessRef) -> EligibilityResult:
        """Automatic checks at the start of phase II: duplicates and earlier winners are
        ineligible with their reason; the rest become eligible. Completeness and word limits
        were enforced at submission."""
        process_id = ref.process_id
        duplicates = earlier = eligible = 0
        with _immediate(self.engine) as conn, conn.begin():
            rows = conn.execute(
                sa.select(_p.c.id, _p.c.category, _p.c.title_key)
                .where(_p.c.process_id == process_id, _p.c.status == ProjectStatus.SUBMITTED.value)
                .order_by(_p.c.submitted_at, _p.c.id)
            ).all()
            past: dict[str, str] = dict(
                conn.execute(
                    sa.select(_p.c.title_key, _p.c.process_id).where(
                        _p.c.process_id != process_id, _p.c.winner.is_(sa.true())
                    )
                ).all()
            )
            first: dict[tuple[str, str], int] = {}
            for pid, category, key in rows:
                if key in past:
                    status, reason = (
                        ProjectStatus.INELIGIBLE,
                        f"won in an earlier cycle ({past[key]})",
                    )
                    earlier += 1
                elif (category, key) in first:
                    status, reason = (
                        ProjectStatus.INELIGIBLE,
                        f"duplicate of project {first[(category, key)]}",
                    )
                    duplicates += 1
                else:
                    first[(category, key)] = pid
                    status, reason = ProjectStatus.ELIGIBLE, None
                    eligible += 1
                conn.execute(
                    _p.update().where(_p.c.id == pid).values(status=status.value, reason=reason)
                )
        return EligibilityResult(eligible=eligible, duplicates=duplicates, earlier_winners=earlier)

    @activity.defn
    def freeze_nominations(self, ref: ProcessRef) -> NominationResult:
        """End of phase II: every eligible project becomes a nominated project."""
        process_id = ref.process_id
        with _immediate(self.engine) as conn, conn.begin():
            conn.execute(
                _p.update()
                .where(
                    _p.c.process_id == process_id,
                    _p.c.status.in_([ProjectStatus.ELIGIBLE.value, ProjectStatus.SUBMITTED.value]),
                )
                .values(status=ProjectStatus.NOMINATED.value)
            )
            counts: dict[str, int] = dict(
                conn.execute(
                    sa.select(_p.c.status, sa.func.count())
                    .where(_p.c.process_id == process_id)
                    .group_by(_p.c.status)
                ).all()
            )
        nominated = counts.get(ProjectStatus.NOMINATED.value, 0)
        return NominationResult(nominated=nominated, not_nominated=sum(counts.values()) - nominated)

    @activity.defn
    def tally(self, request: TallyRequest) -> Shortlist:
        """Count the valid ballots, record a hash of exactly those, freeze the shortlists."""
        pid = request.process_id
        with _immediate(self.engine) as conn, conn.begin():
            # A vote the secretariat voided is left out of the count and of the hash.
            ballots = conn.execute(
                sa.select(_v.c.voter_id, _v.c.category, _v.c.project_id).where(
                    _v.c.process_id == pid, _v.c.voided_at.is_(None)
                )
            ).all()
            nominated = conn.execute(
                sa.select(_p.c.id, _p.c.category).where(
                    _p.c.process_id == pid, _p.c.status == ProjectStatus.NOMINATED.value
                )
            ).all()
            counted = list(ballots)
            if request.ballot_rule is BallotRule.ALL_CATEGORIES:
                needed = {c for _, c in nominated}
                voted: dict[int, set[str]] = defaultdict(set)
                for voter, category, _ in ballots:
                    voted[voter].add(category)
                counted = [b for b in ballots if voted[b[0]] >= needed]
            digest = ballot_hash(counted)
            votes = Counter(p for _, _, p in counted)
            by_category: dict[str, list[tuple[int, int]]] = defaultdict(list)
            for project_id, category in nominated:
                by_category[category].append((project_id, votes[project_id]))
            shortlists = {
                c: shortlist_of(by_category.get(c, []), request.shortlist_size)
                for c in request.categories
            }
            chosen = {p for ids in shortlists.values() for p in ids}
            for project_id, _ in nominated:
                conn.execute(
                    _p.update()
                    .where(_p.c.id == project_id)
                    .values(votes=votes[project_id], shortlisted=project_id in chosen)
                )
            conn.execute(_t.delete().where(_t.c.process_id == pid))
            conn.execute(
                _t.insert().values(
                    process_id=pid,
                    ballots_cast=conn.execute(  # every vote, the voided ones included
                        sa.select(sa.func.count()).where(_v.c.process_id == pid)
                    ).scalar_one(),
                    ballots_counted=len(counted),
                    sha256=digest,
                    ballot_rule=request.ballot_rule.value,
                    tallied_at=datetime.now(UTC),
                )
            )
            # The tally is final (voiding is refused from now on): the networks and agent
            # hashes kept to review the vote for organized fraud have served, and go.
            conn.execute(
                _v.update().where(_v.c.process_id == pid).values(network="", agent_hash="")
            )
        return Shortlist(categories=shortlists)

    @activity.defn
    def record_winners(self, request: WinnerRequest) -> None:
        """The Expert Group's choice for one category (replaces an earlier choice, but never
        a later one: a retried attempt of an older selection can arrive after a newer one)."""
        with _immediate(self.engine) as conn, conn.begin():
            conn.execute(
                _p.update()
                .where(
                    _p.c.process_id == request.process_id,
                    _p.c.category == request.category,
                    _p.c.selection_revision <= request.revision,
                )
                .values(
                    winner=_p.c.id.in_(request.project_ids), selection_revision=request.revision
                )
            )
