"""Why a participant's announcements stopped (bounces), and how to have them again.

Mail that came back can suspend a participant's bulk mail (``mail.inbound.standing``): a
mailbox that does not exist, or too many bounces. Signed in (sign-in links are transactional
and still reach them), they see why on ``/mail-status`` and re-enable it with one button.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from mail.inbound.standing import re_enable, standing_of
from portal.deps import CsrfChecked, EngineDep, Me
from portal.pages import render
from portal.work import read, write

router = APIRouter()

# ``mail.inbound.standing`` stores its reason in English for the secretariat's CLI; the page
# says it in the participant's language: the mailbox's DSN status, or "too many bounces".
_NO_MAILBOX = re.compile(r"no such mailbox \(([0-9.]{1,12})\)")


def mailbox_status(reason: str | None) -> str | None:
    """The DSN status of a "no such mailbox" suspension; None for repeated bounces."""
    found = _NO_MAILBOX.fullmatch(reason or "")
    return found.group(1) if found else None


@router.get("/mail-status")
async def mail_status(request: Request, me: Me, engine: EngineDep) -> Response:
    assert me.id is not None
    standing = await read(standing_of, engine, me.id)
    return render(
        request,
        "mail_status.html",
        standing=standing,
        mailbox_status=mailbox_status(standing.reason if standing else None),
        enabled=request.query_params.get("enabled") == "1",
    )


@router.post("/mail-status")
async def mail_reenable(request: Request, me: Me, _: CsrfChecked, engine: EngineDep) -> Response:
    assert me.id is not None
    await write(request, re_enable, engine, me.id)  # through the portal's one writer
    return RedirectResponse("/mail-status?enabled=1", status_code=303)
