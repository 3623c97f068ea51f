"""A request body over the portal's limit is refused with a 413 page in the reader's language,
inside the portal's design (``error.html``), never the framework's plain "Content Too Large".

A declared ``Content-Length`` over the limit is refused before the route runs. A body that
streams past it (chunked, no length declared) is refused as soon as the limit is crossed,
and the route, which was reading the body, is stopped by an ``HTTPException`` whose own
answer is dropped. Before the page is sent, the rest of an upload up to ``DRAIN_LIMIT`` is
read and thrown away (never kept): a browser still sending its form when the server closes
the connection shows a reset, not the page. A larger upload is cut off at once.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.pages import render

TOO_LARGE = 413
DRAIN_LIMIT = 16 * 1024 * 1024  # read and discarded before the page; past it, cut off


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with the portal's 413 page."""

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared(scope)
        if declared > self.limit:
            if declared <= DRAIN_LIMIT:
                await _drain(receive, declared)
            await _refuse(scope, receive, send)
            return
        seen = 0
        started = refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    if not started and not refused:
                        refused = True
                        if message.get("more_body", False):
                            await _drain(receive, DRAIN_LIMIT - seen)
                        await _refuse(scope, receive, send)
                    raise HTTPException(status_code=TOO_LARGE)
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the route's own answer to the stopped read: already answered
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited, guarded)


async def _drain(receive: Receive, budget: int) -> None:
    """Read the rest of the request's body, at most ``budget`` bytes, keeping none of it."""
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        budget -= len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _declared(scope: Scope) -> int:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    if not hasattr(request.state, "participant"):
        request.state.participant = None  # not read: the body never reached a route
    response = render(request, "error.html", status=TOO_LARGE, problem="too-large")
    response.headers["connection"] = "close"  # whatever is left of the upload is not read
    await response(scope, receive, send)
