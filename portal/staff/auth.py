"""Who may see a console page: a staff member signed in with the link and the second factor,
in a role the page allows. Anyone else (an anonymous visitor, a participant signed in to the
portal, a staff member half signed in) is sent to the staff sign-in; a wrong role gets 403.
"""

from __future__ import annotations

import asyncio

from fastapi import Request

from portal.guards import Refusal
from portal.security import csrf_ok
from services import staff
from services.staff import Staff

STAFF_COOKIE = "wsis_staff"
SECRETARIAT = ("secretariat",)
ANY_STAFF = ("secretariat", "expert", "expert-lead")


def staff_cookie(request: Request) -> str:
    """The browser's console session cookie ('' when it has none): what console forms'
    CSRF tokens are bound to, as the portal's are bound to the participant's session."""
    return request.cookies.get(STAFF_COOKIE, "")


async def checked_form(request: Request, submitted: str) -> None:
    """A console form must carry the token its page was rendered with (403 otherwise)."""
    if not csrf_ok(
        request.app.state.settings.portal_key(), request, submitted, staff_cookie(request)
    ):
        raise Refusal(403, "error.html", problem="csrf")


class StaffSignInRequired(Exception):
    """The visitor is not signed in as staff (or not past the second factor)."""

    def __init__(self, to: str = "/staff/signin") -> None:
        super().__init__(to)
        self.to = to


async def session_of(request: Request) -> staff.SignedIn | None:
    """The live staff session the browser holds (touched: idle time starts again)."""
    session_id = request.cookies.get(STAFF_COOKIE)
    if not session_id:
        return None
    app = request.app.state
    return await asyncio.to_thread(
        staff.session_staff, app.engine, session_id, app.settings.portal_key()
    )


async def require(request: Request, roles: tuple[str, ...] = SECRETARIAT) -> Staff:
    """The staff member signed in with both factors, in one of ``roles``."""
    signed = await session_of(request)
    if signed is None:
        raise StaffSignInRequired()
    if not signed.complete:
        raise StaffSignInRequired("/staff/second-factor")
    request.state.staff = signed.staff
    if signed.staff.role not in roles:
        raise Refusal(403, "error.html", problem="bad-request")
    return signed.staff


async def secretariat(request: Request) -> Staff:
    """A route's dependency: a secretariat member."""
    return await require(request, SECRETARIAT)


async def any_staff(request: Request) -> Staff:
    """A route's dependency: any staff member."""
    return await require(request, ANY_STAFF)
