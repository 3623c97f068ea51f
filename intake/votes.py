"""Votes in batches through the CLI, and the secretariat's review before the tally (a
participant's ballot through the portal is ``intake.ballots``).

Every write checks the voting window inside its own transaction, so voting closes to the
second whether or not a worker runs. One vote per voter and category is the database's
UNIQUE constraint, so two tabs confirming at once cannot both get in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from intake.fields import normalize_email
from intake.windows import Refused, check_window
from models.ids import MAX_ID
from models.tables import (
    BallotReceipt,
    Participant,
    PrizeTally,
    Project,
    ProjectStatus,
    Vote,
    WindowKind,
)

# Ballots per transaction: short enough that other submissions never wait long for the
# write lock, long enough that a 100,000-ballot batch is not slowed by commits.
VOTE_CHUNK = 500

_vote = Vote.__table__  # type: ignore[attr-defined]
_project = Project.__table__  # type: ignore[attr-defined]
_receipt = BallotReceipt.__table__  # type: ignore[attr-defined]
_participant = Participant.__table__  # type: ignore[attr-defined]

# Only verified participants vote: their address was confirmed by a first sign-in through an
# e-mailed link, or the secretariat vouched for them at import.
UNVERIFIED = (
    "this participant's address is not verified yet: they sign in once on the portal with the "
    "link it e-mails them (/signin), or the secretariat vouches for them "
    "(starter.py participants import --verified)"
)
# Eligible projects are the nominated ones from the moment voting opens (the nomination
# window closes then); the workflow's freeze only records it.
VOTABLE = (ProjectStatus.NOMINATED.value, ProjectStatus.ELIGIBLE.value)


def void_votes(
    process_id: str,
    engine: Engine,
    *,
    reason: str,
    network: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    project_id: int | None = None,
    voter_ids: Sequence[int] = (),
    now: datetime | None = None,
) -> int:
    """Void the votes that match (a network in a time span, a project, given voters) with
    ``reason``, before the tally: voided votes are left out of the count and of the ballot
    hash. Returns how many were voided; ``Refused`` once the tally is frozen."""
    if not reason.strip():
        raise Refused("give the reason the votes are voided", reason="no-reason")
    if network is None and not voter_ids:
        raise Refused("say which votes: a network (and a time span) or voters", reason="no-filter")
    now = now or datetime.now(UTC)
    where = [_vote.c.process_id == process_id, _vote.c.voided_at.is_(None)]
    if network is not None:
        where.append(_vote.c.network == network)
    if since is not None:
        where.append(_vote.c.cast_at >= since)
    if until is not None:
        where.append(_vote.c.cast_at < until)
    if project_id is not None:
        where.append(_vote.c.project_id == project_id)
    if voter_ids:
        where.append(_vote.c.voter_id.in_(list(voter_ids)))
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        tallied = conn.execute(
            sa.select(PrizeTally.__table__.c.process_id).where(  # type: ignore[attr-defined]
                PrizeTally.__table__.c.process_id == process_id  # type: ignore[attr-defined]
            )
        ).first()
        if tallied is not None:
            raise Refused(
                "the tally is frozen: votes can be voided only before voting closes",
                reason="tallied",
            )
        done = conn.execute(
            _vote.update().where(*where).values(voided_at=now, void_reason=reason.strip())
        )
        return int(done.rowcount or 0)


@dataclass(frozen=True)
class Ballot:
    """A vote as the CLI takes it: the voter's e-mail, a category and a project of it."""

    voter_email: str
    category: str
    project_id: int


def cast_votes(
    process_id: str,
    ballots: Sequence[Ballot],
    engine: Engine,
    *,
    now: datetime | None = None,
    clock: Callable[[], datetime] | None = None,
) -> list[str | None]:
    """Record ``ballots``; for each, None if counted or the reason it was refused.

    Ballots are committed ``VOTE_CHUNK`` at a time, each chunk in its own transaction with
    its own window check, so a large batch never holds the write lock for long. The deadline
    is a rule per ballot: if the window closes during a batch, the chunks already committed
    stay and every later ballot is refused with the reason. If the window refuses the first
    chunk, nothing is written and ``Refused`` is raised, as for a single vote. ``now`` fixes
    the time of every chunk; otherwise each chunk takes it from ``clock`` (default: the
    system clock) when its transaction begins. One vote per voter and category is the
    database's UNIQUE constraint, so concurrent votes cannot both get in.
    """
    read_clock = clock or (lambda: datetime.now(UTC))
    outcomes: list[str | None] = []
    for start in range(0, len(ballots), VOTE_CHUNK):
        chunk = ballots[start : start + VOTE_CHUNK]
        try:
            outcomes += _cast_chunk(process_id, chunk, engine, now or read_clock())
        except Refused as exc:
            if start == 0:
                raise
            outcomes += [str(exc)] * (len(ballots) - start)
            break
    return outcomes


def _voter_key(address: str) -> str | None:
    """The registry's spelling of ``address`` (NFC, case), or None if it cannot be one."""
    try:
        return normalize_email(address, smtp_utf8=True)
    except ValueError:
        return None


def _cast_chunk(
    process_id: str, ballots: Sequence[Ballot], engine: Engine, now: datetime
) -> list[str | None]:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    keys = {b.voter_email: _voter_key(b.voter_email) for b in ballots}
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        check_window(session, process_id, WindowKind.VOTING, now, "Public online voting")
        # Every writer stores the registry's spelling (intake.fields.normalize_email), so an
        # exact match finds the voter through the unique index.
        voters = {
            email: (pid, verified)
            for email, pid, verified in session.exec(
                select(Participant.email, Participant.id, Participant.verified_at).where(
                    Participant.email.in_({k for k in keys.values() if k})  # type: ignore[attr-defined]
                )
            ).all()
        }
        ids = {b.project_id for b in ballots if 0 < b.project_id <= MAX_ID}
        projects = {
            p.id: p
            for p in session.exec(
                select(Project).where(Project.id.in_(ids))  # type: ignore[union-attr]
            ).all()
        }
        outcomes: list[str | None] = []
        for ballot in ballots:
            key = keys[ballot.voter_email]
            voter, verified = voters.get(key, (None, None)) if key else (None, None)
            project = projects.get(ballot.project_id)
            if voter is None:
                outcomes.append(
                    f"{ballot.voter_email[:100]} is not a member of the WSIS community; "
                    f"sign up on the portal before voting"
                )
            elif verified is None:
                outcomes.append(UNVERIFIED)
            elif project is None or project.process_id != process_id:
                outcomes.append(f"project {ballot.project_id} is not in this contest")
            # Eligible projects are the nominated ones from the moment voting opens (the
            # nomination window closes then); the workflow's freeze only records it.
            elif project.status not in (ProjectStatus.NOMINATED, ProjectStatus.ELIGIBLE):
                outcomes.append(f"project {ballot.project_id} is not a nominated project")
            elif project.category != ballot.category:
                outcomes.append(
                    f"project {ballot.project_id} is not nominated in category "
                    f"{ballot.category[:100]} (it is in {project.category})"
                )
            else:
                inserted = session.execute(
                    dialect.insert(_vote)
                    .values(
                        process_id=process_id,
                        category=ballot.category,
                        project_id=project.id,
                        voter_id=voter,
                        cast_at=now,
                    )
                    .on_conflict_do_nothing()
                )
                outcomes.append(
                    None
                    if inserted.rowcount  # type: ignore[attr-defined]
                    else f"{key} has already voted in category "
                    f"{ballot.category}: one vote per category"
                )
        session.commit()
    return outcomes
