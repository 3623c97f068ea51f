"""The Official Submission Form of the Open Consultation Process, for a signed-in participant.

The window check inside intake's transaction is the one rule for the deadline: a form sent
one second late is refused there, and this page then says when the form closed, in the
participant's terms.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from intake.ocp import OcpForm, record_submission
from intake.windows import Refused
from models.tables import OcpSubmission, WindowKind
from models.vocab import StakeholderType
from portal.deps import CsrfChecked, EngineDep, Me
from portal.pages import render
from portal.work import acknowledge, read, write
from reports.calendar import window_of

router = APIRouter()
_s = OcpSubmission.__table__  # type: ignore[attr-defined]
Text = Annotated[str, Form()]


def not_open(request: Request, refused: Refused) -> Response:
    """The page for a window that is not open: when it opens, or when it closed."""
    return render(request, "window_closed.html", status=409, refused=refused)


@router.get("/ocp/{process_id}")
async def ocp_form(request: Request, process_id: str, me: Me, engine: EngineDep) -> Response:
    window = await read(window_of, process_id, WindowKind.OCP_SUBMISSIONS, engine)
    if window is None:
        return render(request, "error.html", status=404, problem="not-found")
    form = {
        "full_name": me.name,
        "organization": me.organization,
        "country": me.country,
        "stakeholder_type": me.stakeholder_type,
    }
    existing = await read(existing_submission, engine, process_id, me.id)
    return render(
        request, "ocp_form.html", window=window, process_id=process_id, form=form,
        kinds=list(StakeholderType), problems=[], existing=existing,
    )  # fmt: skip


def existing_submission(engine: Any, process_id: str, participant_id: int | None) -> int | None:
    """The participant's latest official submission to ``process_id`` still standing."""
    with engine.connect() as conn:
        found: int | None = conn.execute(
            sa.select(sa.func.max(_s.c.id)).where(
                _s.c.process_id == process_id,
                _s.c.participant_id == participant_id,
                _s.c.withdrawn_at.is_(None),
            )
        ).scalar()
    return found


@router.post("/ocp/{process_id}")
async def send_ocp(
    request: Request,
    process_id: str,
    me: Me,
    _: CsrfChecked,
    engine: EngineDep,
    tasks: BackgroundTasks,
    full_name: Text = "",
    organization: Text = "",
    country: Text = "",
    telephone: Text = "",
    stakeholder_type: Text = "",
    proposal: Text = "",
) -> Response:
    fields = {
        "full_name": full_name,
        "email": me.email,  # the signed-in participant's own address, never typed
        "organization": organization,
        "country": country,
        "telephone": telephone or None,
        "stakeholder_type": stakeholder_type or None,
        "language": me.language,
        "proposal": proposal,
    }
    window = await read(window_of, process_id, WindowKind.OCP_SUBMISSIONS, engine)
    try:
        form = OcpForm.model_validate(fields)
    except ValidationError as exc:
        problems = sorted({str(e["loc"][0]) for e in exc.errors()})
        return render(
            request, "ocp_form.html", status=400, window=window, process_id=process_id,
            form=fields, kinds=list(StakeholderType), problems=problems,
        )  # fmt: skip
    try:
        submission_id, ack = await write(request, record_submission, process_id, form, engine)
    except Refused as refused:
        return not_open(request, refused)
    tasks.add_task(acknowledge, request, ack)
    return RedirectResponse(f"/received/submission/{submission_id}", status_code=303)
