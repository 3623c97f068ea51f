"""Phase II eligibility: the queue with the automatic rules' results; mark ineligible."""

from __future__ import annotations

import asyncio
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from intake.acks import AckOutcome
from intake.windows import Refused as IntakeRefused
from models.reasons import INELIGIBLE_REASONS
from portal.staff.auth import checked_form, secretariat
from portal.staff.pages import render
from services import eligibility
from services.errors import Refused
from services.staff import Staff

router = APIRouter()
# What became of the owner's e-mail (intake.acks.AckOutcome), said on the queue page.
TOLD = {o.value for o in AckOutcome}
Text = Annotated[str, Form()]


@router.get("/staff/eligibility")
async def queue_page(
    request: Request,
    member: Annotated[Staff, Depends(secretariat)],
    contest: str = "",
    problem: str = "",
    told: str = "",
) -> Response:
    engine = request.app.state.engine
    contests = await asyncio.to_thread(eligibility.contests, engine)
    chosen = contest if contest in contests else (contests[0] if contests else "")
    queue = await asyncio.to_thread(eligibility.queue, engine, chosen) if chosen else []
    return render(
        request, "staff/eligibility.html", contests=contests, chosen=chosen, queue=queue,
        reasons=list(INELIGIBLE_REASONS), problem=problem[:300],
        told=told if told in TOLD else "",
    )  # fmt: skip


@router.post("/staff/eligibility/{project_id}")
async def mark_ineligible(
    request: Request,
    project_id: int,
    member: Annotated[Staff, Depends(secretariat)],
    contest: Text = "",
    reason: Text = "",
    note: Text = "",
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    engine = request.app.state.engine
    try:
        outcome = await eligibility.mark(
            engine, request.app.state.settings, contest, project_id, reason, note,
            actor=member.actor,
        )  # fmt: skip
    except (Refused, IntakeRefused) as exc:
        why = getattr(exc, "message", None) or str(exc)
        return await queue_page(request, member, contest, why)
    where = urlencode({"contest": contest, "told": outcome.value})
    return RedirectResponse(f"/staff/eligibility?{where}", status_code=303)
