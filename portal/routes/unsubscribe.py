"""The target of every bulk e-mail's List-Unsubscribe header (RFC 2369, RFC 8058).

GET shows a page with a button. POST with the body ``List-Unsubscribe=One-Click`` takes
effect at once and answers 200: no cookie, no CSRF token, no redirect, as a mail provider
sends it; the token in the URL is the capability. It is idempotent, and it stops bulk
announcements only: sign-in links, acknowledgements and receipts still arrive.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from intake.accounts import known_unsubscribe_token, unsubscribe
from portal.pages import render
from portal.session import load_participant

router = APIRouter()


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(request: Request, token: str) -> Response:
    await load_participant(request)
    known = await asyncio.to_thread(known_unsubscribe_token, request.app.state.engine, token)
    if not known:
        return render(request, "error.html", status=404, problem="unknown-link")
    return render(request, "unsubscribe.html", token=token)


@router.post("/unsubscribe/{token}")
async def unsubscribe_now(request: Request, token: str) -> Response:
    await load_participant(request)
    done = await asyncio.to_thread(unsubscribe, request.app.state.engine, token)
    if not done:
        return render(request, "error.html", status=404, problem="unknown-link")
    return render(request, "unsubscribed.html")
