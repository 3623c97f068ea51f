"""Official submissions to the Open Consultation Process, and their acknowledgement."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, field_validator
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from core.settings import Settings
from intake.acks import AckOutcome, queue_ack, send_ack
from intake.fields import (
    Country,
    EmailAddress,
    LongText,
    Name,
    RequiredOrganization,
    Telephone,
)
from intake.windows import Refused, check_window
from models.tables import OcpSubmission, Participant, WindowKind
from models.vocab import Language, StakeholderType
from models.wire import CampaignRequest, MessageKind


class OcpForm(BaseModel):
    """The Official Submission Form: name, e-mail, organization and country are required.

    Text is cleaned as it comes in (``intake.fields``): single lines lose control
    characters and stay on one line, the proposal keeps its line breaks; each field has a
    length limit.
    """

    full_name: Name
    email: EmailAddress
    organization: RequiredOrganization
    country: Country
    telephone: Telephone | None = None
    stakeholder_type: StakeholderType | None = None
    language: Language | None = None
    proposal: LongText

    @field_validator("language", "telephone", mode="before")
    @classmethod
    def _blank(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("stakeholder_type", mode="before")
    @classmethod
    def _type(cls, v: object) -> object:
        if v is None or (isinstance(v, str) and not v.strip()):
            return None
        return StakeholderType.parse(str(v))


@dataclass(frozen=True)
class OcpReceipt:
    submission_id: int
    participant_id: int
    acknowledgement: AckOutcome


def record_submission(
    process_id: str, form: OcpForm, engine: Engine, *, now: datetime | None = None
) -> tuple[int, CampaignRequest]:
    """Write the submission and its acknowledgement's outbox row in one transaction."""
    now = now or datetime.now(UTC)
    with Session(engine.execution_options(sqlite_immediate=True)) as session:
        window = check_window(
            session, process_id, WindowKind.OCP_SUBMISSIONS, now, "The official submission form"
        )
        participant = session.exec(
            select(Participant).where(Participant.email == form.email)
        ).first()
        if participant is None:
            participant = Participant(
                email=form.email,
                name=form.full_name,
                organization=form.organization,
                country=form.country,
                stakeholder_type=form.stakeholder_type or StakeholderType.OTHER,
                language=form.language or Language.EN,
            )
            session.add(participant)
            session.flush()
        assert participant.id is not None
        submission = OcpSubmission(
            process_id=process_id,
            participant_id=participant.id,
            full_name=form.full_name,
            email=form.email,
            organization=form.organization,
            country=form.country,
            telephone=form.telephone or None,
            stakeholder_type=form.stakeholder_type or participant.stakeholder_type,
            proposal=form.proposal,
            submitted_at=now,
        )
        session.add(submission)
        session.flush()
        assert submission.id is not None
        request = queue_ack(
            session, window, MessageKind.OCP_SUBMISSION_ACK, f"ack:{submission.id}", participant.id
        )
        session.commit()
        return submission.id, request


async def submit_ocp(
    process_id: str,
    form: OcpForm,
    engine: Engine,
    settings: Settings,
    *,
    now: datetime | None = None,
) -> OcpReceipt:
    """Record an official submission and send its acknowledgement.

    ``Refused`` (nothing written) outside the window. If the mail server is down the
    acknowledgement stays in the outbox and goes out with the next delivery.
    """
    submission_id, request = await asyncio.to_thread(
        record_submission, process_id, form, engine, now=now
    )
    assert request.participant_id is not None
    acknowledgement = await send_ack(request, engine, settings)
    return OcpReceipt(submission_id, request.participant_id, acknowledgement)


__all__ = ["OcpForm", "OcpReceipt", "Refused", "record_submission", "submit_ocp"]
