"""Where the portal's database work runs, off the event loop.

Reads run in parallel threads. Writes on SQLite run in one thread per portal process: SQLite
has one writer at a time, and writers from many threads would wait for it in SQLite's busy
handler, which sleeps in growing steps and makes the slowest requests very slow; one writer
thread makes them queue in order instead. On PostgreSQL writes run in parallel too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from fastapi import Request
from sqlalchemy.engine import Engine

from intake.acks import send_ack
from models.wire import CampaignRequest

P = ParamSpec("P")
T = TypeVar("T")


def writer_for(engine: Engine) -> ThreadPoolExecutor:
    """The executor for ``engine``'s writes (see the module docstring)."""
    workers = 1 if engine.dialect.name == "sqlite" else 16
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="portal-writer")


async def write(request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run the write ``fn(*args, **kwargs)`` in the portal's writer."""
    loop = asyncio.get_running_loop()
    executor: ThreadPoolExecutor = request.app.state.writer
    result: T = await loop.run_in_executor(executor, lambda: fn(*args, **kwargs))
    return result


async def read(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run the read ``fn(*args, **kwargs)`` in a thread of its own."""
    return await asyncio.to_thread(fn, *args, **kwargs)


async def acknowledge(request: Request, ack: CampaignRequest) -> None:
    """Send an acknowledgement or a receipt after the page, a few at a time: each send holds
    a database connection for its pass, and a peak of votes must not take them all (what
    cannot go now stays in the outbox for the process's next flush)."""
    app = request.app.state
    async with app.mailing:
        await send_ack(ack, app.engine, app.settings)
