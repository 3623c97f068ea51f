"""Who is signed in: the session cookie holds an opaque id, the database the session.

A browser session (the default) has a cookie that ends with the browser; "keep me signed
in" sets one for 30 days (``intake.sessions``). Signing in or out also changes the CSRF
cookie, so no form token outlives the session it was issued in. Every write (opening,
touching, closing a session) goes through the portal's one writer (``portal.work``).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from intake.sessions import (
    KEPT,
    close_every_session,
    close_session,
    find_session,
    open_session,
    touch_session,
)
from models.tables import Participant
from portal.pages import secure
from portal.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    cookie_name,
    new_csrf_seed,
    security_event,
    session_of,
)
from portal.work import read, write

__all__ = ["SESSION_COOKIE", "SignInRequired", "end_session", "load_participant", "signed_in"]


async def load_participant(request: Request) -> Participant | None:
    """The signed-in participant, kept on ``request.state`` for the page's layout."""
    if hasattr(request.state, "participant"):  # asked already in this request
        return request.state.participant  # type: ignore[no-any-return]
    session_id = session_of(request)
    participant = None
    if session_id:
        key = request.app.state.settings.portal_key()
        found = await read(find_session, request.app.state.engine, session_id, key)
        if found is not None:
            participant = found.participant
            if found.touch:
                await write(request, touch_session, request.app.state.engine, session_id, key)
    request.state.participant = participant
    return participant


class SignInRequired(Exception):
    """Raised by a page that needs a signed-in participant: the app sends them to sign in."""


async def signed_in(request: Request) -> Participant:
    """A page's dependency: the signed-in participant, or off to the sign-in page."""
    participant = await load_participant(request)
    if participant is None:
        raise SignInRequired
    return participant


def _new_csrf(request: Request, response: Response) -> None:
    response.set_cookie(
        cookie_name(request, CSRF_COOKIE), new_csrf_seed(), httponly=True, samesite="lax",
        secure=secure(request), path="/",
    )  # fmt: skip


async def start_session(
    request: Request, participant_id: int, to: str, *, keep: bool = False
) -> Response:
    """Sign in: a new session (never the one a visitor brought), then ``to``."""
    engine, key = request.app.state.engine, request.app.state.settings.portal_key()
    old = session_of(request)
    if old:
        await write(request, close_session, engine, old, key)
    session_id = await write(request, open_session, engine, participant_id, key, keep=keep)
    security_event(request, "signed_in", participant=participant_id, kept=keep)
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(
        cookie_name(request, SESSION_COOKIE), session_id, httponly=True, samesite="lax",
        secure=secure(request), path="/",
        max_age=int(KEPT.lifetime.total_seconds()) if keep else None,
    )  # fmt: skip
    _new_csrf(request, response)
    return response


async def end_session(request: Request, *, everywhere: int | None = None) -> Response:
    """Sign out: the session row is deleted (with ``everywhere``, that participant's every
    session), the cookie cleared."""
    session_id = session_of(request)
    engine = request.app.state.engine
    if everywhere is not None:
        await write(request, close_every_session, engine, everywhere)
        security_event(request, "signed_out", everywhere=True)
    elif session_id:
        key = request.app.state.settings.portal_key()
        await write(request, close_session, engine, session_id, key)
        security_event(request, "signed_out")
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(
        cookie_name(request, SESSION_COOKIE), path="/", secure=secure(request), httponly=True
    )
    _new_csrf(request, response)
    return response
