"""Checks a route makes before it acts: the request rate (the form's CSRF token is a
dependency, ``portal.deps.CsrfChecked``).

Each raises ``Refusal`` with the status and page the visitor gets (403, 429); the app turns
it into that page in the visitor's language.
"""

from __future__ import annotations

from fastapi import Request

from portal.security import network_of, security_event
from portal.throttle import allowed, retry_after
from portal.work import write


class Refusal(Exception):
    """Answer with ``template`` and ``status`` instead of going on."""

    def __init__(self, status: int, template: str, **context: object) -> None:
        super().__init__(template)
        self.status = status
        self.template = template
        self.context = context


async def throttled(request: Request, address: str) -> None:
    """Sign-in requests per address and per client network within their limits (429)."""
    app = request.app.state
    settings, key = app.settings, app.settings.portal_key()
    network = network_of(request.client.host if request.client else None)
    for what, limit in (
        (f"signin:address:{address}", settings.signin_per_address),
        (f"signin:network:{network}", settings.signin_per_client),
    ):
        if not await write(request, allowed, app.engine, key, what, limit):
            security_event(request, "throttled", per=what.split(":")[1])
            raise Refusal(429, "error.html", problem="throttled", retry_after=retry_after())
