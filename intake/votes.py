"""Votes: a participant's whole ballot through the portal, batches through the CLI, and the
secretariat's review before the tally.

Every write checks the voting window inside its own transaction, so voting closes to the
second whether or not a worker runs. One vote per voter and category is the database's
UNIQUE constraint, so two tabs confirming at once cannot both get in.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from intake.acks import queue_ack
from intake.fields import normalize_email
from intake.windows import Refused, check_window
from models.plan import BallotRule
from models.tables import (
    BallotReceipt,
    Participant,
    PrizeTally,
    Project,
    ProjectStatus,
    Vote,
    Window,
    WindowKind,
)
from models.wire import CampaignRequest, MessageKind

# The largest id a database column holds (BIGINT): a larger "project id" names no project
# and must not reach the driver, which cannot even bind it.
MAX_ID = 2**63 - 1
# Ballots per transaction: short enough that other submissions never wait long for the
# write lock, long enough that a 100,000-ballot batch is not slowed by commits.
VOTE_CHUNK = 500
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

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
_VOTABLE = (ProjectStatus.NOMINATED.value, ProjectStatus.ELIGIBLE.value)


@dataclass(frozen=True)
class Evidence:
    """What a vote keeps for the secretariat's review: the client's network (its /24 or
    /48) and a keyed hash of its user agent; never the full address."""

    network: str = ""
    agent_hash: str = ""


@dataclass(frozen=True)
class Choice:
    """A nominated project, as the ballot shows it."""

    project_id: int
    category: str
    title: str
    organization: str
    country: str
    description: str


@dataclass
class BallotView:
    """What a voter may choose: the nominated projects of each category, in an order of
    their own (position bias), and the categories they have voted in already."""

    process_id: str
    title: str
    rule: BallotRule
    categories: dict[str, list[Choice]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    voted: dict[str, int] = field(default_factory=dict)  # category -> the project chosen

    @property
    def remaining(self) -> list[str]:
        return [c for c in self.categories if c not in self.voted]


@dataclass(frozen=True)
class Receipt:
    """A confirmed ballot: its code, when, and what it chose."""

    code: str
    cast_at: datetime
    choices: dict[str, int]
    acknowledgement: CampaignRequest | None = None


def _rules(window: Window) -> dict[str, object]:
    rules: dict[str, object] = json.loads(window.rules_json or "{}")
    return rules


def ballot_for(
    process_id: str,
    voter_id: int,
    engine: Engine,
    *,
    now: datetime | None = None,
    only: Collection[int] | None = None,
) -> BallotView:
    """The ballot ``voter_id`` sees now; ``Refused`` (with its reason) outside voting.
    With ``only``, just those projects are listed, without descriptions (the review page);
    every category still is."""
    now = now or datetime.now(UTC)
    votable = sa.and_(_project.c.process_id == process_id, _project.c.status.in_(_VOTABLE))
    columns = [_project.c.id, _project.c.category, _project.c.title, _project.c.organization,
               _project.c.country]  # fmt: skip
    with Session(engine) as session:
        window = check_window(session, process_id, WindowKind.VOTING, now, "Public online voting")
        # Plain rows, not ORM objects: a contest has hundreds of nominated projects and this
        # runs for every ballot page.
        if only is None:
            rows = session.execute(sa.select(*columns, _project.c.description).where(votable))
            listed = [Choice(*row) for row in rows]
            categories = {c.category for c in listed}
        else:
            wanted = [p for p in only if 0 < p <= MAX_ID][:1000]
            rows = session.execute(sa.select(*columns).where(votable, _project.c.id.in_(wanted)))
            listed = [Choice(i, c, t, o, n, "") for i, c, t, o, n in rows]
            categories = set(
                session.execute(sa.select(_project.c.category).where(votable).distinct()).scalars()
            )
        voted: dict[str, int] = {
            category: project_id
            for category, project_id in session.execute(
                sa.select(_vote.c.category, _vote.c.project_id).where(
                    _vote.c.process_id == process_id, _vote.c.voter_id == voter_id
                )
            )
        }
    rules = _rules(window)
    order = [str(c) for c in rules.get("categories", [])]  # type: ignore[attr-defined]
    names = dict(rules.get("category_names", {}))  # type: ignore[call-overload]
    view = BallotView(
        process_id, window.title, BallotRule(str(rules.get("ballot_rule", "any"))), names=names
    )
    view.voted = voted
    by_category: dict[str, list[Choice]] = {code: [] for code in categories}
    for choice in sorted(listed, key=lambda c: c.project_id):
        by_category[choice.category].append(choice)
    for code in [*order, *sorted(categories - set(order))]:
        if code in by_category:
            choices = by_category[code]
            # Each voter sees each category in an order of their own, the same on every visit.
            random.Random(f"{process_id}:{voter_id}:{code}").shuffle(choices)
            view.categories[code] = choices
    return view


def _receipt_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def cast_ballot(
    process_id: str,
    voter_id: int,
    choices: dict[str, int],
    evidence: Evidence,
    engine: Engine,
    *,
    now: datetime | None = None,
) -> Receipt:
    """Record a whole ballot in one transaction, or nothing (``Refused`` with the reason:
    ``closed``..., ``unverified``, ``invalid``, ``already-voted`` with its categories,
    ``incomplete`` with the ones still to choose under the all-categories rule). Its receipt
    e-mail is queued in the same transaction."""
    now = now or datetime.now(UTC)
    if not choices:
        raise Refused("choose a project in at least one category", reason="empty")
    try:
        return _cast(process_id, voter_id, choices, evidence, engine, now)
    except IntegrityError:
        # Another tab of the same voter won the race (PostgreSQL; SQLite's write lock
        # serializes the check and the insert): the whole ballot is refused, as it would be.
        raise Refused(
            "you have already voted in one of these categories",
            reason="already-voted",
            categories=sorted(choices),
        ) from None


def _cast(
    process_id: str,
    voter_id: int,
    choices: dict[str, int],
    evidence: Evidence,
    engine: Engine,
    now: datetime,
) -> Receipt:
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        window = check_window(session, process_id, WindowKind.VOTING, now, "Public online voting")
        voter = session.get(Participant, voter_id)
        if voter is None or voter.verified_at is None:
            raise Refused(UNVERIFIED, reason="unverified")
        ids = [p for p in choices.values() if 0 < p <= MAX_ID]
        found = {
            pid: (category, status)
            for pid, category, status in session.execute(
                sa.select(_project.c.id, _project.c.category, _project.c.status).where(
                    _project.c.process_id == process_id, _project.c.id.in_(ids)
                )
            ).all()
        }
        wrong = [
            c
            for c, p in choices.items()
            if found.get(p, ("", ""))[0] != c or found[p][1] not in _VOTABLE
        ]
        if wrong:
            raise Refused(
                f"not a nominated project of its category: {', '.join(sorted(wrong))}",
                reason="invalid",
                categories=sorted(wrong),
            )
        voted = set(
            session.execute(
                sa.select(_vote.c.category).where(
                    _vote.c.process_id == process_id, _vote.c.voter_id == voter_id
                )
            ).scalars()
        )
        again = sorted(voted & set(choices))
        if again:
            raise Refused(
                f"you have already voted in {', '.join(again)}: one vote per category",
                reason="already-voted",
                categories=again,
            )
        if BallotRule(str(_rules(window).get("ballot_rule", "any"))) is BallotRule.ALL_CATEGORIES:
            needed = set(
                session.execute(
                    sa.select(_project.c.category)
                    .where(_project.c.process_id == process_id, _project.c.status.in_(_VOTABLE))
                    .distinct()
                ).scalars()
            )
            missing = sorted(needed - voted - set(choices))
            if missing:
                raise Refused(
                    f"this contest counts a ballot only with a vote in every category; "
                    f"still to choose: {', '.join(missing)}",
                    reason="incomplete",
                    categories=missing,
                )
        code = _receipt_code()
        receipt_id = session.execute(
            _receipt.insert()
            .values(
                process_id=process_id, voter_id=voter_id, code=code, votes=len(choices), cast_at=now
            )
            .returning(_receipt.c.id)
        ).scalar_one()
        session.execute(
            _vote.insert(),
            [
                {
                    "process_id": process_id,
                    "category": category,
                    "project_id": project_id,
                    "voter_id": voter_id,
                    "cast_at": now,
                    "ballot_id": receipt_id,
                    "network": evidence.network,
                    "agent_hash": evidence.agent_hash,
                }
                for category, project_id in choices.items()
            ],
        )
        ack = queue_ack(
            session, window, MessageKind.VOTE_RECEIPT, f"receipt:{receipt_id}", voter_id,
            subject_id=receipt_id,
        )  # fmt: skip
        session.commit()
    return Receipt(code, now, dict(choices), ack)


@dataclass(frozen=True)
class ReceiptCheck:
    """What a receipt code tells: whether that ballot is recorded, when, with how many votes,
    and how many of them the secretariat voided (never which rule caught them). ``choices``
    (category -> project title) is shown to the voter alone."""

    process_id: str
    cast_at: datetime
    votes: int
    voided: int
    voter_id: int
    choices: dict[str, str]


def check_receipt(engine: Engine, code: str) -> ReceiptCheck | None:
    """The ballot a receipt code names, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(_receipt).where(_receipt.c.code == code.strip().upper())
        ).first()
        if row is None:
            return None
        votes = conn.execute(
            sa.select(_vote.c.category, _project.c.title, _vote.c.voided_at)
            .join(_project, _project.c.id == _vote.c.project_id)
            .where(_vote.c.ballot_id == row.id)
        ).all()
    return ReceiptCheck(
        row.process_id,
        row.cast_at,
        row.votes,
        sum(1 for v in votes if v.voided_at is not None),
        row.voter_id,
        {v.category: v.title for v in votes},
    )


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
