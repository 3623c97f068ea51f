"""The portal's application: its routes, the guards every request passes, its error pages.

uvicorn --factory portal.app:create_app     # or: python -m portal
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.exceptions import HTTPException
from temporalio.client import Client

from core.db import get_engine, migrate
from core.settings import Settings, get_settings
from portal import staff
from portal.body_limit import BodyLimit
from portal.errors import ErrorPage
from portal.guards import Refusal
from portal.pages import render
from portal.routes import (
    account,
    ballot,
    mail_status,
    meetings,
    mine,
    mydata,
    ocp,
    projects,
    public,
    received,
    results,
    revise,
    signin,
    unsubscribe,
)  # fmt: skip
from portal.security import RequestLog, SecurityHeaders
from portal.session import SignInRequired, load_participant
from portal.states import ProcessStates
from portal.upkeep import PURGE_EVERY, lifespan
from portal.work import BallotBox, writer_for

STATIC = Path(__file__).parent / "static"
MAILING_AT_ONCE = 2  # acknowledgements and receipts being sent at once, per portal process


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, temporal: Client | None = None
) -> FastAPI:
    """The portal for ``settings`` (default: from the environment) on ``engine``; the
    processes' phases are read through ``temporal`` (default: connected when first needed)."""
    settings = settings or get_settings()
    if engine is None:
        migrate(settings.database_url)
        engine = get_engine(settings.database_url)
    app = FastAPI(
        title="WSIS community portal", docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=lifespan,  # the periodic purge of expired rows (portal.upkeep)
    )  # fmt: skip
    app.state.settings = settings
    app.state.engine = engine
    app.state.writer = writer_for(engine)
    app.state.ballot_box = BallotBox(engine, app.state.writer)
    app.state.mailing = asyncio.Semaphore(MAILING_AT_ONCE)
    app.state.purge_every = PURGE_EVERY
    app.state.states = ProcessStates(settings, temporal)
    settings.portal_key()  # made (or read) once at start, not by the first request
    # Paths carry sign-in and unsubscribe tokens: no server's access log may print them,
    # whatever options it was started with (RequestLog names the route instead).
    logging.getLogger("uvicorn.access").disabled = True
    app.add_middleware(ErrorPage)  # inside the headers: a 500 carries them too
    # A body over the limit (declared or streamed) is the portal's 413 page, in the
    # reader's language (the framework's own limit answers in plain English text).
    app.add_middleware(BodyLimit, limit=settings.portal_max_body_bytes)
    app.add_middleware(RequestLog)
    app.add_middleware(SecurityHeaders, https=settings.portal_url.startswith("https://"))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    routers = [public, signin, account, mydata, unsubscribe, ocp, projects, ballot, received]
    for routes in [*routers, revise, meetings, mine, results]:
        app.include_router(routes.router)
    staff.install(app)  # the secretariat's console under /staff/
    app.include_router(mail_status.router)  # mail that came back (mail.inbound)

    @app.exception_handler(Refusal)
    async def refused(request: Request, refusal: Refusal) -> Response:
        response = render(request, refusal.template, status=refusal.status, **refusal.context)
        if refusal.status == 429 and "retry_after" in refusal.context:
            response.headers["retry-after"] = str(refusal.context["retry_after"])
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in_first(request: Request, _: SignInRequired) -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        await load_participant(request)
        problems = {404: "not-found", 405: "not-found", 413: "too-large"}
        problem = problems.get(exc.status_code, "bad-request")
        return render(request, "error.html", status=exc.status_code, problem=problem)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, _: RequestValidationError) -> Response:
        return render(request, "error.html", status=400, problem="bad-request")

    return app
