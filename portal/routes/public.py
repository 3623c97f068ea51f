"""The home page (the running cycle, read from the intake windows), the privacy notice and the
accessibility statement, and the language switcher."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from core import i18n
from portal.pages import LANGUAGE_COOKIE, render, secure
from portal.session import load_participant
from reports.calendar import intake_calendar

router = APIRouter()


@router.get("/")
async def home(request: Request) -> Response:
    """Each process of the running cycle: where it stands, its next deadline."""
    await load_participant(request)
    processes = await asyncio.to_thread(intake_calendar, request.app.state.engine)
    return render(request, "home.html", processes=processes)


@router.get("/privacy")
async def privacy(request: Request) -> Response:
    """The privacy notice: what the portal keeps, why, who sees it, for how long."""
    await load_participant(request)
    return render(request, "privacy.html")


@router.get("/accessibility")
async def accessibility(request: Request) -> Response:
    """The accessibility statement."""
    await load_participant(request)
    return render(request, "accessibility.html")


@router.get("/language/{lang}")
async def language(request: Request, lang: str, next: str = "/") -> Response:
    """Switch the portal's language (a cookie) and go back to the page the visitor was on."""
    local = next.startswith("/") and not next.startswith("//") and "\\" not in next
    back = next if local else "/"
    response = RedirectResponse(back, status_code=303)
    if lang in i18n.LANGUAGES:
        response.set_cookie(
            LANGUAGE_COOKIE, lang, max_age=365 * 86400, samesite="lax", secure=secure(request)
        )
    return response
