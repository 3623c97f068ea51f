"""The portal's background upkeep: every few minutes each portal process deletes what has
expired (``intake.purge``: sessions, sign-in tokens, rate counters, unconfirmed sign-ups).
At start it also composes a sign-in message in every language, off the event loop: the
first one in a language compiles its templates (about 300 ms), and a process that did so
while answering would be slower right after a request for a known address than for an
unknown one (a timing hint about who is registered).

Stateless and safe with several processes: each pass is a set of idempotent DELETEs, run in
the process's one writer (``portal.work``); the passes of many processes overlap harmlessly,
and a random delay keeps them from coinciding. It runs for the app's lifespan (uvicorn's
default), so a portal process purges whether or not anyone visits.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from core import i18n
from core.log import get_logger
from core.settings import Settings
from intake.purge import purge_expired
from mail.compose import Composer, Recipient
from models.plan import GENEVA
from models.wire import Audience, CampaignRequest, MessageKind

PURGE_EVERY = 600.0  # seconds, give or take a tenth

_log = get_logger("portal")


async def purge_once(app: FastAPI) -> None:
    """One pass, in the app's writer; a failure is logged and the next pass tries again."""
    loop = asyncio.get_running_loop()
    try:
        purged = await loop.run_in_executor(app.state.writer, purge_expired, app.state.engine)
    except Exception as failed:  # the database, for a moment: the next pass will do
        _log.warning("portal.purge_failed", error=type(failed).__name__)
        return
    _log.info(
        "portal.purged", sessions=purged.sessions, tokens=purged.tokens,
        counters=purged.counters, sign_ups=purged.sign_ups,
    )  # fmt: skip


def warm_sign_in_mail(settings: Settings) -> None:
    """Compose a sign-in message in every language (for nobody): templates compiled once."""
    request = CampaignRequest(
        key="portal:warm-up", process_id="portal", kind=MessageKind.SIGN_IN_LINK,
        audience=Audience.ONE_PARTICIPANT, participant_id=0, title="WSIS", timezone=GENEVA,
    )  # fmt: skip
    extra = {"link": f"{settings.portal_url}/signin/link/x", "code": "AAAA-AAAA", "minutes": 20}
    composer = Composer.for_settings(request, settings, extra)
    for language in i18n.LANGUAGES:
        composer.message_bytes(Recipient(0, "nobody@example.invalid", "", language))


async def _warm(app: FastAPI) -> None:
    try:
        await asyncio.to_thread(warm_sign_in_mail, app.state.settings)
    except Exception as failed:  # a warm-up only: the first real message compiles instead
        _log.warning("portal.warm_up_failed", error=type(failed).__name__)
        return
    app.state.mail_warm.set()


async def _purging(app: FastAPI, every: float) -> None:
    while True:
        await asyncio.sleep(every * random.uniform(0.9, 1.1))
        await purge_once(app)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: the purge runs from start to stop."""
    app.state.mail_warm = asyncio.Event()
    tasks = [
        asyncio.create_task(_purging(app, app.state.purge_every)),
        asyncio.create_task(_warm(app)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
