"""The target of every bulk e-mail's List-Unsubscribe header (RFC 2369, RFC 8058).

GET shows a page with a button. POST with the body ``List-Unsubscribe=One-Click`` takes
effect at once and answers 200: no cookie, no CSRF token, no redirect, as a mail provider
sends it; the token in the URL is the capability. It is idempotent, and it stops bulk
announcements only: sign-in links, acknowledgements and receipts still arrive. Opened when
already unsubscribed, the link says so and offers to take the announcements again.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from intake.accounts import unsubscribe
from intake.subscription import resubscribe, subscribed_by_token
from portal.guards import checked_form
from portal.pages import render
from portal.session import load_participant

router = APIRouter()


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(request: Request, token: str) -> Response:
    await load_participant(request)
    subscribed = await asyncio.to_thread(subscribed_by_token, request.app.state.engine, token)
    if subscribed is None:
        return render(request, "error.html", status=404, problem="unknown-link")
    if not subscribed:  # already: say so, and offer to take them again
        return render(request, "unsubscribed.html", token=token, already=True)
    return render(request, "unsubscribe.html", token=token)


@router.post("/unsubscribe/{token}")
async def unsubscribe_now(request: Request, token: str) -> Response:
    await load_participant(request)
    done = await asyncio.to_thread(unsubscribe, request.app.state.engine, token)
    if not done:
        return render(request, "error.html", status=404, problem="unknown-link")
    return render(request, "unsubscribed.html", token=token, already=False)


@router.post("/unsubscribe/{token}/again")
async def subscribe_again(
    request: Request, token: str, csrf: Annotated[str, Form()] = ""
) -> Response:
    """Take the announcements again, from the same link (a form with a token: never one click)."""
    await load_participant(request)
    await checked_form(request, csrf)
    if not await asyncio.to_thread(resubscribe, request.app.state.engine, token):
        return render(request, "error.html", status=404, problem="unknown-link")
    return RedirectResponse(f"/unsubscribe/{token}?again=1", status_code=303)
