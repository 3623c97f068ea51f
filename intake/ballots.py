"""A participant's ballot through the portal: what they may choose, the whole ballot cast in
one transaction with its evidence and receipt, and the receipt checked later.

The window is checked inside each transaction, so voting closes to the second whether or not
a worker runs; one vote per voter and category is the database's UNIQUE constraint, so two
tabs confirming at once cannot both get in. Batches and the secretariat's review are in
``intake.votes``.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from intake.acks import queue_ack
from intake.votes import MAX_ID, UNVERIFIED, VOTABLE
from intake.windows import Refused, check_window
from models.plan import BallotRule
from models.tables import BallotReceipt, Participant, Project, Vote, Window, WindowKind
from models.wire import CampaignRequest, MessageKind

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_vote = Vote.__table__  # type: ignore[attr-defined]
_project = Project.__table__  # type: ignore[attr-defined]
_receipt = BallotReceipt.__table__  # type: ignore[attr-defined]


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
    """A confirmed ballot: its code, when, and what it chose (project ids, and their titles
    for the receipt page)."""

    code: str
    cast_at: datetime
    choices: dict[str, int]
    acknowledgement: CampaignRequest | None = None
    titles: dict[str, str] = field(default_factory=dict)


def _rules(window: Window) -> dict[str, object]:
    rules: dict[str, object] = json.loads(window.rules_json or "{}")
    return rules


# The nominated projects of a contest, read from the database at most every few seconds by
# each portal process: every ballot page shows all of them (hundreds, with descriptions), and
# during voting they do not change (nominations close when voting opens). Only a cache: the
# confirm checks every choice against the database in its own transaction.
NOMINATED_FOR_SECONDS = 5.0


@dataclass(frozen=True)
class _Nominated:
    read_at: float
    choices: tuple[Choice, ...]  # by project id
    categories: frozenset[str]


_nominated: dict[tuple[str, str], _Nominated] = {}
_nominated_lock = threading.Lock()


def _nominated_in(session: Session, engine: Engine, process_id: str) -> _Nominated:
    key = (engine.url.render_as_string(hide_password=True), process_id)
    found = _nominated.get(key)
    if found is not None and time.monotonic() - found.read_at < NOMINATED_FOR_SECONDS:
        return found
    columns = [_project.c.id, _project.c.category, _project.c.title, _project.c.organization,
               _project.c.country, _project.c.description]  # fmt: skip
    # Plain rows, not ORM objects: hundreds of them.
    rows = session.execute(
        sa.select(*columns)
        .where(_project.c.process_id == process_id, _project.c.status.in_(VOTABLE))
        .order_by(_project.c.id)
    )
    choices = tuple(Choice(*row) for row in rows)
    found = _Nominated(time.monotonic(), choices, frozenset(c.category for c in choices))
    with _nominated_lock:
        _nominated[key] = found
    return found


def ballot_for(
    process_id: str,
    voter_id: int,
    engine: Engine,
    *,
    now: datetime | None = None,
    only: Collection[int] | None = None,
) -> BallotView:
    """The ballot ``voter_id`` sees now; ``Refused`` (with its reason) outside voting.
    With ``only``, just those projects are listed (the review page); every category still is."""
    now = now or datetime.now(UTC)
    with Session(engine) as session:
        window = check_window(session, process_id, WindowKind.VOTING, now, "Public online voting")
        nominated = _nominated_in(session, engine, process_id)
        voted: dict[str, int] = {
            category: project_id
            for category, project_id in session.execute(
                sa.select(_vote.c.category, _vote.c.project_id).where(
                    _vote.c.process_id == process_id, _vote.c.voter_id == voter_id
                )
            )
        }
    listed = nominated.choices
    if only is not None:
        wanted = set(only)
        listed = tuple(c for c in listed if c.project_id in wanted)
    rules = _rules(window)
    order = [str(c) for c in rules.get("categories", [])]  # type: ignore[attr-defined]
    names = dict(rules.get("category_names", {}))  # type: ignore[call-overload]
    view = BallotView(
        process_id, window.title, BallotRule(str(rules.get("ballot_rule", "any"))), names=names
    )
    view.voted = voted
    by_category: dict[str, list[Choice]] = {code: [] for code in nominated.categories}
    for choice in listed:
        by_category[choice.category].append(choice)
    for code in [*order, *sorted(nominated.categories - set(order))]:
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
            pid: (category, status, title)
            for pid, category, status, title in session.execute(
                sa.select(
                    _project.c.id, _project.c.category, _project.c.status, _project.c.title
                ).where(_project.c.process_id == process_id, _project.c.id.in_(ids))
            ).all()
        }
        wrong = [
            c
            for c, p in choices.items()
            if found.get(p, ("", "", ""))[0] != c or found[p][1] not in VOTABLE
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
                    .where(_project.c.process_id == process_id, _project.c.status.in_(VOTABLE))
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
    titles = {category: found[project_id][2] for category, project_id in sorted(choices.items())}
    return Receipt(code, now, dict(choices), ack, titles)


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
