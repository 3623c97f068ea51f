"""Casting ballots: each ballot recorded whole or refused whole, many in one transaction.

The portal's writer casts the ballots confirmed meanwhile together (a group commit): one
window check, one read of the voters, projects and earlier votes, one insert each of the
receipts, votes and receipt e-mails for the whole group, whatever its size. On SQLite, whose
one write lock serializes every ballot, that is what lets confirms keep up with a peak.
Each ballot is still judged on its own, in order: a second tab's ballot in the same group
finds the first one's categories voted. One vote per voter and category stays the
database's UNIQUE constraint; if another process won a race for one of the group's voters,
the group is cast again ballot by ballot, so only that one is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from intake.acks import queue_acks
from intake.ballots import ballot_rule
from intake.votes import UNVERIFIED, VOTABLE
from intake.windows import Refused, check_window
from models.ids import MAX_ID
from models.plan import BallotRule
from models.tables import BallotReceipt, Participant, Project, Vote, Window, WindowKind
from models.wire import CampaignRequest, MessageKind

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# More choices than any contest has categories is no ballot (a forged form): refused before
# its ids reach a statement, whose parameters the whole group shares.
MAX_CHOICES = 100
_vote = Vote.__table__  # type: ignore[attr-defined]
_project = Project.__table__  # type: ignore[attr-defined]
_receipt = BallotReceipt.__table__  # type: ignore[attr-defined]
_participant = Participant.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Evidence:
    """What a vote keeps for the secretariat's review: the client's network (its /24 or
    /48) and a keyed hash of its user agent; never the full address."""

    network: str = ""
    agent_hash: str = ""


@dataclass(frozen=True)
class BallotCast:
    """A confirmed ballot to record: whose, in which contest, a project id per category."""

    process_id: str
    voter_id: int
    choices: dict[str, int]
    evidence: Evidence = field(default_factory=Evidence)


@dataclass(frozen=True)
class Receipt:
    """A recorded ballot: its code, when, and what it chose (project ids, and their titles
    for the receipt page)."""

    code: str
    cast_at: datetime
    choices: dict[str, int]
    acknowledgement: CampaignRequest | None = None
    titles: dict[str, str] = field(default_factory=dict)


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
    [outcome] = cast_ballots([BallotCast(process_id, voter_id, choices, evidence)], engine, now=now)
    if isinstance(outcome, Refused):
        raise outcome
    return outcome


def cast_ballots(
    ballots: Sequence[BallotCast], engine: Engine, *, now: datetime | None = None
) -> list[Receipt | Refused]:
    """Each of ``ballots`` recorded (its ``Receipt``) or refused (its ``Refused``, as
    ``cast_ballot`` says), in order, in one transaction; see the module docstring."""
    now = now or datetime.now(UTC)
    try:
        return _cast_together(ballots, engine, now)
    except IntegrityError:
        if len(ballots) > 1:
            return [cast_ballots([ballot], engine, now=now)[0] for ballot in ballots]
        # Another tab of the same voter won the race in another process (PostgreSQL; on
        # SQLite the write lock serializes the check and the insert): refused whole.
        return [
            Refused(
                "you have already voted in one of these categories",
                reason="already-voted",
                categories=sorted(ballots[0].choices),
            )
        ]


def _cast_together(
    ballots: Sequence[BallotCast], engine: Engine, now: datetime
) -> list[Receipt | Refused]:
    outcomes: list[Receipt | Refused | None] = [None] * len(ballots)
    contests: dict[str, list[int]] = {}
    for i, ballot in enumerate(ballots):
        if not ballot.choices:
            outcomes[i] = Refused("choose a project in at least one category", reason="empty")
        elif len(ballot.choices) > MAX_CHOICES:
            outcomes[i] = Refused("more choices than the contest has categories", reason="invalid")
        else:
            contests.setdefault(ballot.process_id, []).append(i)
    # Not expired on commit: a refusal carries its window to the page that explains it.
    with Session(
        engine.execution_options(sqlite_immediate=True), expire_on_commit=False
    ) as session:
        for process_id, indexes in contests.items():
            try:
                window = check_window(
                    session, process_id, WindowKind.VOTING, now, "Public online voting"
                )
            except Refused as refused:
                for i in indexes:
                    outcomes[i] = refused
                continue
            group = [ballots[i] for i in indexes]
            for i, outcome in zip(indexes, _record(session, window, group, now), strict=True):
                outcomes[i] = outcome
        session.commit()
    judged = [outcome for outcome in outcomes if outcome is not None]
    assert len(judged) == len(ballots), "every ballot is recorded or refused"
    return judged


def _record(
    session: Session, window: Window, ballots: list[BallotCast], now: datetime
) -> list[Receipt | Refused]:
    """Judge each ballot of one contest in order, then record the accepted ones."""
    process_id = window.process_id
    voters = sorted({b.voter_id for b in ballots})
    verified = set(
        session.execute(
            sa.select(_participant.c.id).where(
                _participant.c.id.in_(voters), _participant.c.verified_at.is_not(None)
            )
        ).scalars()
    )
    ids = sorted({p for b in ballots for p in b.choices.values() if 0 < p <= MAX_ID})
    found: dict[int, tuple[str, str, str]] = {
        pid: (category, status, title)
        for pid, category, status, title in session.execute(
            sa.select(_project.c.id, _project.c.category, _project.c.status, _project.c.title)
            .where(_project.c.process_id == process_id, _project.c.id.in_(ids))
        )
    }  # fmt: skip
    voted: dict[int, set[str]] = {voter: set() for voter in voters}
    for voter, category in session.execute(
        sa.select(_vote.c.voter_id, _vote.c.category).where(
            _vote.c.process_id == process_id, _vote.c.voter_id.in_(voters)
        )
    ):
        voted[voter].add(category)
    needed: set[str] = set()
    if ballot_rule(window) is BallotRule.ALL_CATEGORIES:
        needed = set(
            session.execute(
                sa.select(_project.c.category)
                .where(_project.c.process_id == process_id, _project.c.status.in_(VOTABLE))
                .distinct()
            ).scalars()
        )
    judged = [_judge(b, b.voter_id in verified, found, voted[b.voter_id], needed) for b in ballots]
    accepted = [b for b, refused in zip(ballots, judged, strict=True) if refused is None]
    receipts = iter(_insert(session, window, accepted, found, now))
    return [refused if refused is not None else next(receipts) for refused in judged]


def _judge(
    ballot: BallotCast,
    verified: bool,
    found: dict[int, tuple[str, str, str]],
    voted: set[str],
    needed: set[str],
) -> Refused | None:
    """Why ``ballot`` is refused, or None (then its categories count as voted for the
    voter's next ballot in the group)."""
    choices = ballot.choices
    if not verified:
        return Refused(UNVERIFIED, reason="unverified")
    nominated = {p for p, (_, status, _) in found.items() if status in VOTABLE}
    wrong = sorted(c for c, p in choices.items() if p not in nominated or found[p][0] != c)
    if wrong:
        return Refused(
            f"not a nominated project of its category: {', '.join(wrong)}",
            reason="invalid",
            categories=wrong,
        )
    again = sorted(voted & set(choices))
    if again:
        return Refused(
            f"you have already voted in {', '.join(again)}: one vote per category",
            reason="already-voted",
            categories=again,
        )
    missing = sorted(needed - voted - set(choices))
    if missing:
        return Refused(
            f"this contest counts a ballot only with a vote in every category; "
            f"still to choose: {', '.join(missing)}",
            reason="incomplete",
            categories=missing,
        )
    voted.update(choices)
    return None


def _insert(
    session: Session,
    window: Window,
    ballots: list[BallotCast],
    found: dict[int, tuple[str, str, str]],
    now: datetime,
) -> list[Receipt]:
    """The accepted ballots' receipts, votes and receipt e-mails: three inserts in all."""
    if not ballots:
        return []
    codes = [_receipt_code() for _ in ballots]
    receipt_ids = session.execute(
        _receipt.insert().returning(_receipt.c.id, sort_by_parameter_order=True),
        [
            {"process_id": window.process_id, "voter_id": b.voter_id, "code": code,
             "votes": len(b.choices), "cast_at": now}
            for b, code in zip(ballots, codes, strict=True)
        ],
    ).scalars().all()  # fmt: skip
    session.execute(
        _vote.insert(),
        [
            {"process_id": window.process_id, "category": category, "project_id": project_id,
             "voter_id": b.voter_id, "cast_at": now, "ballot_id": receipt_id,
             "network": b.evidence.network, "agent_hash": b.evidence.agent_hash}
            for b, receipt_id in zip(ballots, receipt_ids, strict=True)
            for category, project_id in b.choices.items()
        ],
    )  # fmt: skip
    acks = queue_acks(
        session, window, MessageKind.VOTE_RECEIPT,
        [(f"receipt:{rid}", b.voter_id, rid) for b, rid in zip(ballots, receipt_ids, strict=True)],
    )  # fmt: skip
    return [
        Receipt(code, now, dict(b.choices), ack,
                {c: found[p][2] for c, p in sorted(b.choices.items())})
        for b, code, ack in zip(ballots, codes, acks, strict=True)
    ]  # fmt: skip


def _receipt_code() -> str:
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"
