"""What routes ask for, as FastAPI dependencies (as in FastAPI's full-stack template): the
settings, the database engine, the portal's key, the viewer (signed in or not), the
signed-in participant, and a checked CSRF token. A route names what it needs in its
signature, and nothing is fetched by hand::

    @router.post("/preferences")
    async def save(request: Request, me: Me, _: CsrfChecked, language: Text = "") -> ...
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy.engine import Engine

from core.settings import Settings
from models.tables import Participant
from portal.guards import Refusal
from portal.security import csrf_ok, security_event
from portal.session import load_participant, signed_in
from portal.states import ProcessStates
from portal.work import BallotBox


def app_settings(request: Request) -> Settings:
    """The portal's settings (``create_app``'s)."""
    settings: Settings = request.app.state.settings
    return settings


def app_engine(request: Request) -> Engine:
    """The portal's database engine."""
    engine: Engine = request.app.state.engine
    return engine


def ballot_box(request: Request) -> BallotBox:
    """The process's ballot box (ballots confirmed together are cast together)."""
    box: BallotBox = request.app.state.ballot_box
    return box


def process_states(request: Request) -> ProcessStates:
    """The processes' phases, read from their workflows (``portal.states``)."""
    states: ProcessStates = request.app.state.states
    return states


def portal_key(settings: Annotated[Settings, Depends(app_settings)]) -> bytes:
    """The portal's secret key: CSRF tokens and keyed hashes."""
    return settings.portal_key()


async def csrf_checked(
    request: Request, key: Annotated[bytes, Depends(portal_key)], csrf: Annotated[str, Form()] = ""
) -> None:
    """A form POST must carry the token its page was rendered with (403 otherwise)."""
    if not csrf_ok(key, request, csrf):
        security_event(request, "csrf_refused")
        raise Refusal(403, "error.html", problem="csrf")


SettingsDep = Annotated[Settings, Depends(app_settings)]
EngineDep = Annotated[Engine, Depends(app_engine)]
Key = Annotated[bytes, Depends(portal_key)]
# The visitor, signed in or not (the page's layout shows who is signed in).
Viewer = Annotated[Participant | None, Depends(load_participant)]
# A signed-in participant, or a redirect to the sign-in page.
Me = Annotated[Participant, Depends(signed_in)]
Box = Annotated[BallotBox, Depends(ballot_box)]
States = Annotated[ProcessStates, Depends(process_states)]
# The form's CSRF token checked before the route runs.
CsrfChecked = Annotated[None, Depends(csrf_checked)]
