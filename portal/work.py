"""Where the portal's database work runs, off the event loop.

Reads run in parallel threads. Writes on SQLite run in one thread per portal process: SQLite
has one writer at a time, and writers from many threads would wait for it in SQLite's busy
handler, which sleeps in growing steps and makes the slowest requests very slow; one writer
thread makes them queue in order instead. On PostgreSQL writes run in parallel too. Ballots
confirmed while the writer is busy are cast together when it is free (``BallotBox``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from fastapi import Request
from sqlalchemy.engine import Engine

from intake.acks import send_ack
from intake.casting import BallotCast, Receipt, cast_ballots
from intake.windows import Refused
from models.wire import CampaignRequest

P = ParamSpec("P")
T = TypeVar("T")


def writer_threads(engine: Engine) -> int:
    """How many writes to ``engine`` run at once in one portal process."""
    return 1 if engine.dialect.name == "sqlite" else 16


def writer_for(engine: Engine) -> ThreadPoolExecutor:
    """The executor for ``engine``'s writes (see the module docstring)."""
    return ThreadPoolExecutor(
        max_workers=writer_threads(engine), thread_name_prefix="portal-writer"
    )


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


# Ballots cast in one transaction at most: a peak's queue is cut into groups this size.
BALLOTS_AT_ONCE = 100


class BallotBox:
    """The ballots of one portal process on their way to the database. A ballot confirmed
    while the writer is idle is cast at once; those confirmed while it is busy wait and are
    then cast together, in one transaction (``intake.casting``): a group commit, so that on
    SQLite a peak of confirms costs one write lock per group, not one per ballot. Nothing is
    kept here beyond the requests under way."""

    def __init__(self, engine: Engine, writer: ThreadPoolExecutor) -> None:
        self._engine = engine
        self._writer = writer
        self._lanes = writer_threads(engine)  # groups cast at once: one a writer thread
        self._waiting: list[tuple[BallotCast, asyncio.Future[Receipt | Refused]]] = []
        self._casting = 0  # groups being cast (counted by the casters themselves)
        self._tasks: set[asyncio.Task[None]] = set()  # held, or asyncio may drop them

    async def cast(self, ballot: BallotCast) -> Receipt:
        """Record ``ballot`` (its receipt), or raise its ``Refused``."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Receipt | Refused] = loop.create_future()
        self._waiting.append((ballot, outcome))
        if self._casting < self._lanes:
            self._casting += 1
            task = loop.create_task(self._cast_waiting())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        result = await outcome
        if isinstance(result, Refused):
            raise result
        return result

    async def _cast_waiting(self) -> None:
        """Cast the waiting ballots, a group at a time, until none waits."""
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                group = self._waiting[:BALLOTS_AT_ONCE]
                del self._waiting[:BALLOTS_AT_ONCE]
                ballots = [ballot for ballot, _ in group]
                try:
                    outcomes: list[Receipt | Refused] = await loop.run_in_executor(
                        self._writer, cast_ballots, ballots, self._engine
                    )
                except Exception as failed:  # the database: every ballot of the group says so
                    for _, waiting in group:
                        if not waiting.done():
                            waiting.set_exception(failed)
                    continue
                for (_, waiting), result in zip(group, outcomes, strict=True):
                    if not waiting.done():  # its request may have gone (the client left)
                        waiting.set_result(result)
        finally:
            # In the same step as the last look at the queue: a ballot that arrives after it
            # sees this caster gone and starts another (a done callback would come too late).
            self._casting -= 1
