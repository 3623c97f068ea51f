"""A participant's ballot through the portal: what they may choose, and the receipt checked
later (casting it is ``intake.casting``).

The ballot is shown only while its voting window is open (checked on every page); batches
through the CLI and the secretariat's review are in ``intake.votes``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from intake.votes import VOTABLE
from intake.windows import check_window
from models.plan import BallotRule
from models.tables import BallotReceipt, Project, Vote, Window, WindowKind
from models.window_rules import WindowRules

_vote = Vote.__table__  # type: ignore[attr-defined]
_project = Project.__table__  # type: ignore[attr-defined]
_receipt = BallotReceipt.__table__  # type: ignore[attr-defined]


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
    titles: dict[str, str] = field(default_factory=dict)  # the title in other languages

    @property
    def remaining(self) -> list[str]:
        return [c for c in self.categories if c not in self.voted]


def _rules(window: Window) -> WindowRules:
    return WindowRules.parse(window.rules_json)


def ballot_rule(window: Window, rules: WindowRules | None = None) -> BallotRule:
    """The contest's ballot rule (``any`` or ``all-categories``), from its voting window
    (``rules``: the window's rules, when the caller has read them already)."""
    return (_rules(window) if rules is None else rules).ballot_rule


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
    order = list(rules.categories)
    names = rules.names()
    view = BallotView(process_id, window.title, ballot_rule(window, rules), names=names)
    view.titles = dict(rules.titles)
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
