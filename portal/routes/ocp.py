"""The Official Submission Form of the Open Consultation Process, for a signed-in participant.

The window check inside intake's transaction is the one rule for the deadline: a form sent
one second late is refused there, and this page then says when the form closed, in the
participant's terms.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from intake.ocp import OcpForm, record_submission
from intake.windows import Refused
from models.tables import OcpSubmission, WindowKind
from models.vocab import StakeholderType
from portal.deps import CsrfChecked, EngineDep, Me
from portal.forms import OcpFields, validated
from portal.pages import render
from portal.work import acknowledge, read, write
from reports.calendar import window_of

router = APIRouter()
_s = OcpSubmission.__table__  # type: ignore[attr-defined]


def not_open(request: Request, refused: Refused) -> Response:
    """The page for a window that is not open: when it opens, or when it closed."""
    return render(request, "window_closed.html", status=409, refused=refused)


async def ocp_page(
    request: Request, engine: Engine, process_id: str, form: dict[str, Any], *,
    status: int = 200, **context: Any,
) -> Response:  # fmt: skip
    """The Official Submission Form of ``process_id`` filled with ``form`` (new or edited)."""
    window = await read(window_of, process_id, WindowKind.OCP_SUBMISSIONS, engine)
    if window is None:
        return render(request, "error.html", status=404, problem="not-found")
    return render(
        request, "ocp_form.html", status=status, window=window, process_id=process_id,
        form=form, kinds=list(StakeholderType), **context,
    )  # fmt: skip


@router.get("/ocp/{process_id}")
async def ocp_form(request: Request, process_id: str, me: Me, engine: EngineDep) -> Response:
    form = {
        "full_name": me.name,
        "organization": me.organization,
        "country": me.country,
        "stakeholder_type": me.stakeholder_type,
    }
    existing = await read(existing_submission, engine, process_id, me.id)
    return await ocp_page(request, engine, process_id, form, problems=[], existing=existing)


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
    fields: OcpFields,
) -> Response:
    form, problems = validated(OcpForm, fields)
    if form is None:
        return await ocp_page(request, engine, process_id, fields, status=400, problems=problems)
    try:
        submission_id, ack = await write(request, record_submission, process_id, form, engine)
    except Refused as refused:
        return not_open(request, refused)
    tasks.add_task(acknowledge, request, ack)
    return RedirectResponse(f"/received/submission/{submission_id}", status_code=303)
