"""The target of every bulk e-mail's List-Unsubscribe header (RFC 2369, RFC 8058).

GET shows a page with a button. POST with the body ``List-Unsubscribe=One-Click`` takes
effect at once and answers 200: no cookie, no CSRF token, no redirect, as a mail provider
sends it; the token in the URL is the capability. It is idempotent, and it stops bulk
announcements only: sign-in links, acknowledgements and receipts still arrive.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from intake.preferences import known_unsubscribe_token, unsubscribe
from portal.deps import EngineDep, Key, Viewer
from portal.pages import render
from portal.work import read, write

router = APIRouter()
ONE_CLICK = "One-Click"


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(
    request: Request, token: str, _: Viewer, engine: EngineDep, key: Key
) -> Response:
    if not await read(known_unsubscribe_token, engine, key, token):
        return render(request, "error.html", status=404, problem="unknown-link")
    return render(request, "unsubscribe.html", token=token)


@router.post("/unsubscribe/{token}")
async def unsubscribe_now(
    request: Request, token: str, _: Viewer, engine: EngineDep, key: Key,
    one_click: Annotated[str, Form(alias="List-Unsubscribe")] = "",
) -> Response:  # fmt: skip
    """RFC 8058: only a POST whose body says ``List-Unsubscribe=One-Click`` unsubscribes (a
    prefetcher or a scanner replaying forms sends something else); the page's button says
    it too."""
    if one_click != ONE_CLICK:
        return render(request, "error.html", status=400, problem="bad-request")
    done = await write(request, unsubscribe, engine, key, token)
    if not done:
        return render(request, "error.html", status=404, problem="unknown-link")
    return render(request, "unsubscribed.html")
