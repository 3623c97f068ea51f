"""Why a participant's announcements stopped (bounces), and how to have them again.

Mail that came back can suspend a participant's bulk mail (``mail.inbound.standing``): a
mailbox that does not exist, or too many bounces. Signed in (sign-in links are transactional
and still reach them), they see why on ``/mail-status`` and re-enable it with one button.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from mail.inbound.standing import re_enable, standing_of
from portal.deps import CsrfChecked, EngineDep, Me
from portal.pages import render
from portal.work import read, write

router = APIRouter()


@router.get("/mail-status")
async def mail_status(request: Request, me: Me, engine: EngineDep) -> Response:
    assert me.id is not None
    standing = await read(standing_of, engine, me.id)
    return render(
        request,
        "mail_status.html",
        standing=standing,
        enabled=request.query_params.get("enabled") == "1",
    )


@router.post("/mail-status")
async def mail_reenable(request: Request, me: Me, _: CsrfChecked, engine: EngineDep) -> Response:
    assert me.id is not None
    await write(request, re_enable, engine, me.id)  # through the portal's one writer
    return RedirectResponse("/mail-status?enabled=1", status_code=303)
