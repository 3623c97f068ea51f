"""Why a participant's announcements stopped (bounces), and how to have them again.

Mail that came back can suspend a participant's bulk mail (``mail.inbound.standing``): a
mailbox that does not exist, or too many bounces. Signed in (sign-in links are transactional
and still reach them), they see why on ``/mail-status`` and re-enable it with one button.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from mail.inbound.standing import re_enable, standing_of
from models.tables import Participant
from portal.guards import checked_form
from portal.pages import render
from portal.session import signed_in

router = APIRouter()
Me = Annotated[Participant, Depends(signed_in)]


@router.get("/mail-status")
async def mail_status(request: Request, me: Me) -> Response:
    assert me.id is not None
    standing = await asyncio.to_thread(standing_of, request.app.state.engine, me.id)
    return render(
        request,
        "mail_status.html",
        standing=standing,
        enabled=request.query_params.get("enabled") == "1",
    )


@router.post("/mail-status")
async def mail_reenable(request: Request, me: Me, csrf: Annotated[str, Form()] = "") -> Response:
    await checked_form(request, csrf)
    assert me.id is not None
    await asyncio.to_thread(re_enable, request.app.state.engine, me.id)
    return RedirectResponse("/mail-status?enabled=1", status_code=303)
