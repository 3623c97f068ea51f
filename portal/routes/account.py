"""The signed-in participant's own pages: where to go next, and their preferences."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from intake.accounts import set_preferences
from mail.inbound.standing import standing_of
from models.tables import Participant
from models.vocab import Language
from portal.guards import checked_form
from portal.pages import LANGUAGE_COOKIE, render
from portal.session import signed_in

router = APIRouter()
Me = Annotated[Participant, Depends(signed_in)]


@router.get("/me")
async def my_page(request: Request, me: Me) -> Response:
    assert me.id is not None  # a suspension of their announcements (mail.inbound) is shown
    standing = await asyncio.to_thread(standing_of, request.app.state.engine, me.id)
    return render(request, "me.html", mail_suspended=bool(standing and standing.suspended_at))


@router.get("/preferences")
async def preferences_page(request: Request, me: Me) -> Response:
    return render(request, "preferences.html", saved=False)


@router.post("/preferences")
async def save_preferences(
    request: Request,
    me: Me,
    language: Annotated[str, Form()] = "",
    subscribed: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The language of their mail and pages, and whether they take announcements."""
    await checked_form(request, csrf)
    chosen = Language(language) if language in {lang.value for lang in Language} else me.language
    assert me.id is not None
    await asyncio.to_thread(
        set_preferences, request.app.state.engine, me.id, Language(chosen), subscribed == "yes"
    )
    response = RedirectResponse("/preferences?saved=1", status_code=303)
    response.delete_cookie(LANGUAGE_COOKIE)  # their preference now speaks for them
    return response
