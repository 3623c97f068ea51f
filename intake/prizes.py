"""Prize contests: project submissions and the secretariat's nomination marks (votes are
``intake.votes``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, field_validator
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
)
from intake.windows import Refused, check_window
from models.ids import MAX_ID
from models.tables import Participant, Project, ProjectStatus, Window, WindowKind
from models.text import title_key, word_count
from models.vocab import Language, StakeholderType
from models.window_rules import WindowRules
from models.wire import CampaignRequest, MessageKind


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


def check_rules(window: Window, category: str, words: int) -> None:
    """``Refused`` unless the category is the contest's and the description's word count
    (``word_count``, counted before the write transaction: it must not hold SQLite's one
    writer) is within its limits (a new project, or one edited before the deadline)."""
    rules = WindowRules.parse(window.rules_json)
    categories = rules.categories
    if categories and category not in categories:
        raise Refused(
            f"unknown category {category!r}; this contest has: {', '.join(categories)}",
            reason="unknown-category",
            window=window,
        )
    low, high = rules.description_words
    if not low <= words <= high:
        raise Refused(
            f"the description has {words} word{'' if words == 1 else 's'}; it must have "
            f"{low} to {high} (words are counted as a reader counts them)",
            reason="word-count",
            window=window,
            words=words,
            low=low,
            high=high,
        )


def record_project(
    process_id: str, form: ProjectForm, engine: Engine, *, now: datetime | None = None
) -> tuple[int, CampaignRequest]:
    """Check the window and the contest's rules, then write the project and its ack."""
    now = now or datetime.now(UTC)
    # Counted before the write transaction: up to 50,000 characters take tens of milliseconds,
    # which SQLite's one writer (the worker's, every portal process's) must not wait for.
    words = word_count(form.description)
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        window = check_window(
            session, process_id, WindowKind.PROJECT_SUBMISSIONS, now, "Submission of projects"
        )
        check_rules(window, form.category, words)
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
    acknowledgement = await send_ack(request, engine, settings)
    return ProjectReceipt(project_id, acknowledgement)


def mark_ineligible(
    process_id: str,
    project_id: int,
    reason: str,
    engine: Engine,
    *,
    now: datetime | None = None,
    reason_code: str | None = None,
) -> CampaignRequest | None:
    """The secretariat's decision during phase II: the project will not be nominated.

    With ``reason_code`` (a listed reason), the owner's notice is queued in the outbox in the
    same transaction, a campaign of one (``intake.acks``): the caller sends it at once, and if
    it cannot go now the deferred-mail loop retries it. A project already marked is refused
    then, so that its owner is told once."""
    if not reason.strip():
        raise Refused("give the reason the project is ineligible")
    if not 0 < project_id <= MAX_ID:
        raise Refused(f"project {project_id} is not a submission of {process_id}")
    now = now or datetime.now(UTC)
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        window = check_window(
            session, process_id, WindowKind.NOMINATION, now, "The nomination phase"
        )
        project = session.get(Project, project_id)
        if project is None or project.process_id != process_id:
            raise Refused(f"project {project_id} is not a submission of {process_id}")
        if reason_code is not None and project.status == ProjectStatus.INELIGIBLE:
            raise Refused(f"project {project_id} is already marked ineligible")
        project.status = ProjectStatus.INELIGIBLE
        project.reason = reason.strip()
        session.add(project)
        request = None
        if reason_code is not None:
            request = queue_ack(
                session, window, MessageKind.PRIZE_INELIGIBLE, f"ineligible:{project_id}",
                project.owner_id, subject_id=project_id, reason_code=reason_code,
            )  # fmt: skip
        session.commit()
        return request


__all__ = [
    "ProjectForm",
    "ProjectReceipt",
    "Refused",
    "mark_ineligible",
    "record_project",
    "submit_project",
    "title_key",
    "word_count",
]
