"""The portal's background upkeep: every few minutes each portal process deletes what has
expired (``intake.purge``: sessions, sign-in tokens, rate counters, unconfirmed sign-ups).

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

from core.log import get_logger
from intake.purge import purge_expired

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


async def _purging(app: FastAPI, every: float) -> None:
    while True:
        await asyncio.sleep(every * random.uniform(0.9, 1.1))
        await purge_once(app)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's lifespan: the purge runs from start to stop."""
    task = asyncio.create_task(_purging(app, app.state.purge_every))
    try:
        yield
    finally:
        task.cancel()
