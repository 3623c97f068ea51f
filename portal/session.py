"""Who is signed in: the session cookie holds an opaque id, the database the session."""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from intake.accounts import close_session, open_session, session_participant
from models.tables import Participant
from portal.pages import secure

SESSION_COOKIE = "wsis_session"


async def load_participant(request: Request) -> Participant | None:
    """The signed-in participant, kept on ``request.state`` for the page's layout."""
    session_id = request.cookies.get(SESSION_COOKIE)
    participant = None
    if session_id:
        participant = await asyncio.to_thread(
            session_participant, request.app.state.engine, session_id
        )
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


async def start_session(request: Request, participant_id: int, to: str) -> Response:
    """Sign in: a new session (never the one a visitor brought), then ``to``."""
    engine = request.app.state.engine
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await asyncio.to_thread(close_session, engine, old)
    session_id = await asyncio.to_thread(open_session, engine, participant_id)
    response = RedirectResponse(to, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, session_id, httponly=True, samesite="lax", secure=secure(request), path="/"
    )
    return response


async def end_session(request: Request) -> Response:
    """Sign out: the session row is deleted, the cookie cleared."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        await asyncio.to_thread(close_session, request.app.state.engine, session_id)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
