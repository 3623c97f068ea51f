"""The cycle at a glance: each process's phase, its next actions (Geneva and UTC), counts,
its messages by state, and a link to it in the Temporal Web UI."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal.staff.auth import any_staff
from portal.staff.pages import render
from services import cycles, glance
from services.errors import Refused
from services.staff import Staff

router = APIRouter()
GENEVA = "Europe/Zurich"


@router.get("/staff/")
async def at_a_glance(
    request: Request, member: Annotated[Staff, Depends(any_staff)], cycle: str = ""
) -> Response:
    engine = request.app.state.engine
    problem = ""
    known: list[str] = []
    reports: list[cycles.ProcessReport] = []
    try:
        known = await glance.cycles(request.app.state.settings)
        chosen = cycle if cycle in known else (known[0] if known else "")
        if chosen:
            reports = await cycles.status(chosen, request.app.state.settings)
    except Refused as exc:
        problem = exc.message
    except RuntimeError:  # the Temporal server does not answer
        problem = "temporal"
    mail = {
        r.workflow_id: await asyncio.to_thread(glance.messages, engine, r.workflow_id)
        for r in reports[1:]
    }
    return render(
        request, "staff/glance.html", cycles=known, chosen=reports[0].workflow_id if reports
        else "", reports=reports[1:], parent=reports[0] if reports else None, mail=mail,
        problem=problem, geneva=GENEVA,
    )  # fmt: skip
