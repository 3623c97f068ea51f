"""The target of every bulk e-mail's List-Unsubscribe header (RFC 2369, RFC 8058).

GET shows a page with a button. POST with the body ``List-Unsubscribe=One-Click`` takes
effect at once and answers 200: no cookie, no CSRF token, no redirect, as a mail provider
sends it; the token in the URL is the capability. It is idempotent, and it stops bulk
announcements only: sign-in links, acknowledgements and receipts still arrive. Opened when
already unsubscribed, the link says so and offers to take the announcements again.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from intake.preferences import resubscribe, subscribed_by_token, unsubscribe
from portal.deps import CsrfChecked, EngineDep, Key, Viewer
from portal.pages import render
from portal.work import read, write

router = APIRouter()
ONE_CLICK = "One-Click"


@router.get("/unsubscribe/{token}")
async def unsubscribe_page(
    request: Request, token: str, _: Viewer, engine: EngineDep, key: Key
) -> Response:
    subscribed = await read(subscribed_by_token, engine, key, token)
    if subscribed is None:
        return render(request, "error.html", status=404, problem="unknown-link")
    if not subscribed:  # already: say so, and offer to take them again
        return render(request, "unsubscribed.html", token=token, already=True)
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
    return render(request, "unsubscribed.html", token=token, already=False)


@router.post("/unsubscribe/{token}/again")
async def subscribe_again(
    request: Request, token: str, _: Viewer, __: CsrfChecked, engine: EngineDep, key: Key
) -> Response:
    """Take the announcements again, from the same link (a form with a token: never one click)."""
    if not await write(request, resubscribe, engine, key, token):
        return render(request, "error.html", status=404, problem="unknown-link")
    return RedirectResponse(f"/unsubscribe/{token}?again=1", status_code=303)
