"""An official submission or a project edited or withdrawn by its sender, until the deadline
of its window (the same check as a new one: one second late is refused), each change kept in
``submission_revision`` with what the item was before it. A withdrawn project leaves the
contest (status ``withdrawn``: no eligibility check, no ballot); a withdrawn submission
leaves the analysis."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from intake.ocp import OcpForm
from intake.prizes import ProjectForm, check_rules
from intake.windows import Refused, check_window
from models.tables import OcpSubmission, Project, ProjectStatus, SubmissionRevision, WindowKind
from models.text import title_key, word_count

OCP_FIELDS = ("full_name", "organization", "country", "telephone", "stakeholder_type", "proposal")
PROJECT_FIELDS = ("category", "title", "description", "organization", "stakeholder_type", "country")


def _keep(session: Session, kind: str, item: SQLModel, action: str, now: datetime) -> None:
    previous: dict[str, Any] = {
        k: v.isoformat() if isinstance(v, datetime) else v
        for k, v in item.model_dump(warnings=False).items()
    }
    assert isinstance(previous["id"], int)
    session.add(
        SubmissionRevision(
            kind=kind, item_id=previous["id"], action=action, revised_at=now,
            previous_json=json.dumps(previous, ensure_ascii=False),
        )
    )  # fmt: skip


def _submission(session: Session, submission_id: int, participant_id: int) -> OcpSubmission:
    found = session.get(OcpSubmission, submission_id)
    if found is None or found.participant_id != participant_id or found.withdrawn_at:
        raise Refused(f"no official submission {submission_id} of yours", reason="not-yours")
    return found


def _project(session: Session, project_id: int, owner_id: int) -> Project:
    found = session.get(Project, project_id)
    if found is None or found.owner_id != owner_id or found.status != ProjectStatus.SUBMITTED:
        raise Refused(f"no project {project_id} of yours to change", reason="not-yours")
    return found


def edit_submission(
    engine: Engine, submission_id: int, participant_id: int, form: OcpForm,
    *, now: datetime | None = None,
) -> str:  # fmt: skip
    """Replace the submission's fields with ``form``'s; returns its process."""
    now = now or datetime.now(UTC)
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        item = _submission(session, submission_id, participant_id)
        check_window(session, item.process_id, WindowKind.OCP_SUBMISSIONS, now, "The form")
        _keep(session, "submission", item, "edited", now)
        for field in OCP_FIELDS:
            value = getattr(form, field)
            if value is not None or field == "telephone":  # no type given: the one it had
                setattr(item, field, value)
        session.add(item)
        session.commit()
        return item.process_id


def withdraw_submission(
    engine: Engine, submission_id: int, participant_id: int, *, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        item = _submission(session, submission_id, participant_id)
        check_window(session, item.process_id, WindowKind.OCP_SUBMISSIONS, now, "The form")
        _keep(session, "submission", item, "withdrawn", now)
        item.withdrawn_at = now
        session.add(item)
        session.commit()


def edit_project(
    engine: Engine, project_id: int, owner_id: int, form: ProjectForm,
    *, now: datetime | None = None,
) -> str:  # fmt: skip
    """Replace the project's fields with ``form``'s (the contest's rules checked again)."""
    now = now or datetime.now(UTC)
    words = word_count(form.description)  # before the write transaction, as record_project
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        item = _project(session, project_id, owner_id)
        window = check_window(
            session, item.process_id, WindowKind.PROJECT_SUBMISSIONS, now, "Submission of projects"
        )
        check_rules(window, form.category, words)
        _keep(session, "project", item, "edited", now)
        for field in PROJECT_FIELDS:
            setattr(item, field, getattr(form, field))
        item.title_key = title_key(form.title)
        session.add(item)
        session.commit()
        return item.process_id


def withdraw_project(
    engine: Engine, project_id: int, owner_id: int, *, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        item = _project(session, project_id, owner_id)
        check_window(
            session, item.process_id, WindowKind.PROJECT_SUBMISSIONS, now, "Submission of projects"
        )
        _keep(session, "project", item, "withdrawn", now)
        item.status = ProjectStatus.WITHDRAWN
        session.add(item)
        session.commit()
