"""The home page (the running cycle, read from the intake windows) and the language switcher."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from core import i18n
from portal.deps import EngineDep, Viewer
from portal.pages import LANGUAGE_COOKIE, render, secure
from portal.work import read
from reports.calendar import intake_calendar

router = APIRouter()


@router.get("/")
async def home(request: Request, _: Viewer, engine: EngineDep) -> Response:
    """Each process of the running cycle: where it stands, its next deadline."""
    processes = await read(intake_calendar, engine)
    return render(request, "home.html", processes=processes)


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
