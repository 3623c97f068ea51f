"""Prize contests: project submissions, the secretariat's nomination marks, and votes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, field_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.settings import Settings
from intake.acks import AckOutcome, queue_ack, send_ack
from intake.fields import (
    Code,
    Country,
    EmailAddress,
    LongText,
    Name,
    Organization,
    Title,
    normalize_email,
)
from intake.windows import Refused, check_window
from models.tables import Participant, Project, ProjectStatus, Vote, WindowKind
from models.text import title_key, word_count
from models.vocab import Language, StakeholderType
from models.wire import MessageKind

# The largest id a database column holds (BIGINT): a larger "project id" names no project
# and must not reach the driver, which cannot even bind it.
MAX_ID = 2**63 - 1
# Ballots per transaction: short enough that other submissions never wait long for the
# write lock, long enough that a 100,000-ballot batch is not slowed by commits.
VOTE_CHUNK = 500


class ProjectForm(BaseModel):
    """A project description submitted in one category.

    Text is cleaned as it comes in (``intake.fields``); the title is one line of at most
    200 characters, the description keeps its line breaks and is counted in words as a
    reader counts them (``models.text.word_count``).
    """

    owner_email: EmailAddress
    owner_name: Name | None = None
    category: Code
    title: Title
    description: LongText
    organization: Organization = ""
    stakeholder_type: StakeholderType
    country: Country

    @field_validator("owner_name", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("stakeholder_type", mode="before")
    @classmethod
    def _type(cls, v: object) -> object:
        return StakeholderType.parse(str(v)) if v not in (None, "") else v


@dataclass(frozen=True)
class ProjectReceipt:
    project_id: int
    acknowledgement: AckOutcome


def record_project(
    process_id: str, form: ProjectForm, engine: Engine, *, now: datetime | None = None
) -> tuple[int, object]:
    """Check the window and the contest's rules, then write the project and its ack."""
    now = now or datetime.now(UTC)
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        window = check_window(
            session, process_id, WindowKind.PROJECT_SUBMISSIONS, now, "Submission of projects"
        )
        rules = json.loads(window.rules_json)
        categories = rules.get("categories", [])
        if categories and form.category not in categories:
            raise Refused(
                f"unknown category {form.category!r}; this contest has: {', '.join(categories)}"
            )
        low, high = rules.get("description_words", [1, 10_000])
        words = word_count(form.description)
        if not low <= words <= high:
            raise Refused(
                f"the description has {words} word{'' if words == 1 else 's'}; it must have "
                f"{low} to {high} (words are counted as a reader counts them)"
            )
        owner = session.exec(
            select(Participant).where(Participant.email == form.owner_email)
        ).first()
        if owner is None:
            if not form.owner_name:
                raise Refused(
                    f"{form.owner_email} is not a registered participant; "
                    f"give the owner's name to register them"
                )
            owner = Participant(
                email=form.owner_email,
                name=form.owner_name,
                organization=form.organization,
                country=form.country,
                stakeholder_type=form.stakeholder_type,
                language=Language.EN,
            )
            session.add(owner)
            session.flush()
        assert owner.id is not None
        project = Project(
            process_id=process_id,
            category=form.category,
            title=form.title,
            title_key=title_key(form.title),
            description=form.description,
            owner_id=owner.id,
            organization=form.organization,
            stakeholder_type=form.stakeholder_type,
            country=form.country,
            submitted_at=now,
        )
        session.add(project)
        session.flush()
        assert project.id is not None
        request = queue_ack(
            session, window, MessageKind.PRIZE_SUBMISSION_ACK, f"ack:{project.id}", owner.id
        )
        session.commit()
        return project.id, request


async def submit_project(
    process_id: str,
    form: ProjectForm,
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> ProjectReceipt:
    """Record a project (``Refused`` with the reason otherwise) and acknowledge it."""
    import asyncio

    project_id, request = await asyncio.to_thread(record_project, process_id, form, engine, now=now)
    acknowledgement = await send_ack(request, engine, settings)  # type: ignore[arg-type]
    return ProjectReceipt(project_id, acknowledgement)


def mark_ineligible(
    process_id: str, project_id: int, reason: str, engine: Engine, *, now: datetime | None = None
) -> None:
    """The secretariat's decision during phase II: the project will not be nominated."""
    if not reason.strip():
        raise Refused("give the reason the project is ineligible")
    if not 0 < project_id <= MAX_ID:
        raise Refused(f"project {project_id} is not a submission of {process_id}")
    now = now or datetime.now(UTC)
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        check_window(session, process_id, WindowKind.NOMINATION, now, "The nomination phase")
        project = session.get(Project, project_id)
        if project is None or project.process_id != process_id:
            raise Refused(f"project {project_id} is not a submission of {process_id}")
        project.status = ProjectStatus.INELIGIBLE
        project.reason = reason.strip()
        session.add(project)
        session.commit()


@dataclass(frozen=True)
class Ballot:
    """A vote as cast: the voter's e-mail, a category and a project of that category."""

    voter_email: str
    category: str
    project_id: int


_vote = Vote.__table__  # type: ignore[attr-defined]


# Only verified participants vote: their address was confirmed by a first sign-in through an
# e-mailed link, or the secretariat vouched for them at import.
UNVERIFIED = (
    "this participant's address is not verified yet: they sign in once on the portal with the "
    "link it e-mails them (/signin), or the secretariat vouches for them "
    "(starter.py participants import --verified)"
)


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


__all__ = [
    "Ballot",
    "ProjectForm",
    "ProjectReceipt",
    "Refused",
    "cast_votes",
    "mark_ineligible",
    "record_project",
    "submit_project",
    "title_key",
    "word_count",
]
