"""The secretariat's console under ``/staff/``, in the portal's server: the same security
headers, CSRF tokens and body limit as the portal, its own sign-in (link and second factor),
its own roles. Every page is a thin front over ``services``, as the CLI is.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from portal.staff.auth import StaffSignInRequired
from portal.staff.routes import (
    admin,
    changes,
    decision,
    eligibility,
    figures,
    glance,
    judging,
    lists,
    signin,
    start,
    votes,
)


def install(app: FastAPI) -> None:
    """Add the console's routes to the portal (the lists last: their paths are the most
    general) and send every visitor without a staff session to the staff sign-in."""
    for routes in (
        signin,
        glance,
        eligibility,
        changes,
        start,
        admin,
        judging,
        decision,
        votes,
        figures,
        lists,
    ):
        app.include_router(routes.router)

    @app.exception_handler(StaffSignInRequired)
    async def staff_sign_in_first(request: Request, required: StaffSignInRequired) -> Response:
        return RedirectResponse(required.to, status_code=303)
