"""The catch-all error page: an unexpected exception is the portal's own 500 page, in the
visitor's language and inside the security headers (Starlette's ServerErrorMiddleware answers
outside every middleware, with neither)."""

from __future__ import annotations

import traceback

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.log import get_logger
from portal.pages import render

_log = get_logger("portal")


class ErrorPage:
    """Render ``error.html`` (status 500) for an exception no handler took, if the response
    has not started. The log names the exception's type and where it was raised, never its
    message (it may quote a form's value)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as failure:
            if started:
                raise
            where = traceback.extract_tb(failure.__traceback__)[-1]
            _log.error(
                "portal.error", error=type(failure).__name__,
                at=f"{where.filename.rsplit('/', 1)[-1]}:{where.lineno}",
                route=getattr(scope.get("route"), "path", "unmatched"),
            )  # fmt: skip
            request = Request(scope, receive)
            if not hasattr(request.state, "participant"):
                request.state.participant = None
            response = render(request, "error.html", status=500, problem="server")
            await response(scope, receive, send)
