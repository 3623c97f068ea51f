"""The home page (the running processes, each in the phase its workflow holds), the past
cycles, the privacy notice and the accessibility statement, and the language switcher."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from core import i18n
from portal.deps import EngineDep, States, Viewer
from portal.home import process_cards
from portal.pages import LANGUAGE_COOKIE, render, secure

router = APIRouter()


@router.get("/")
async def home(request: Request, _: Viewer, engine: EngineDep, states: States) -> Response:
    """Each running process, the newest first: its phase (from its workflow), its dates,
    what the reader can do now; after the ceremony, the winners and Champions."""
    cards = await process_cards(engine, states)
    running = [c for c in cards if not c.ended]
    return render(request, "home.html", processes=running + [c for c in cards if c.ended])


@router.get("/past")
async def past(request: Request, _: Viewer, engine: EngineDep, states: States) -> Response:
    """The earlier processes (not on the home page), the newest first, with their winners
    and Champions."""
    shown = {c.process_id for c in await process_cards(engine, states)}
    cards = await process_cards(engine, states, recent=None)
    return render(request, "past.html", processes=[c for c in cards if c.process_id not in shown])


@router.get("/privacy")
async def privacy(request: Request, _: Viewer) -> Response:
    """The privacy notice: what the portal keeps, why, who sees it, for how long."""
    return render(request, "privacy.html")


@router.get("/accessibility")
async def accessibility(request: Request, _: Viewer) -> Response:
    """The accessibility statement."""
    return render(request, "accessibility.html")


@router.get("/signed-out")
async def signed_out(request: Request, _: Viewer) -> Response:
    """Where signing out leads: it says so."""
    return render(request, "signed_out.html")


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
