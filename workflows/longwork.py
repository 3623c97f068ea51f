"""A process's long work (campaigns, the outbox flush), run in order, outside the lock.

Since the ``campaigns-outside-lock`` patch, a step or a change applies its state under the
machine's lock (windows, marks, the snapshot) and *queues* its mail here; it lets go of the
lock, then waits for its own jobs. One drainer runs the jobs one at a time, in the order they
were queued, so the mail keeps a sensible order: a deadline notice queued while the opening
runs goes out after the opening, an updated .ics after the invitation. A cancel drops the jobs
not yet begun (``drop_waiting``) and interrupts the one under way (its activity handle).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow


@dataclass(eq=False)
class Job:
    """One piece of long work; ``done`` once it ran, failed or was dropped by a cancel."""

    summary: str
    work: Callable[[], Awaitable[Any]] = field(repr=False)
    done: bool = False
    dropped: bool = False
    error: BaseException | None = None


class WorkQueue:
    """The jobs of one process, run one at a time in order; see the module docstring."""

    def __init__(self) -> None:
        self._waiting: list[Job] = []
        self._drainer: asyncio.Task[None] | None = None
        self.current: Job | None = None
        # The jobs queued by the lock's holder, which waits for them once it lets go.
        self.held: list[Job] | None = None

    def hold(self, jobs: list[Job] | None = None) -> list[Job]:
        """The lock was taken: collect what its holder queues (into ``jobs`` if given)."""
        self.held = [] if jobs is None else jobs
        return self.held

    def add(self, summary: str, work: Callable[[], Awaitable[Any]], *, drop: bool) -> Job:
        """Queue ``work`` after everything queued before it (``drop``: a cancel is under
        way, so it is dropped at once and never runs)."""
        job = Job(summary, work)
        if drop:
            job.dropped = job.done = True
        else:
            self._waiting.append(job)
            if self._drainer is None or self._drainer.done():
                self._drainer = asyncio.create_task(self._drain())
        if self.held is not None:
            self.held.append(job)
        return job

    def drop_waiting(self) -> None:
        """A cancel: the jobs not yet begun never run."""
        for job in self._waiting:
            job.dropped = job.done = True
        self._waiting.clear()

    def idle(self) -> bool:
        return not self._waiting and self.current is None

    async def _drain(self) -> None:
        while self._waiting:
            job = self._waiting.pop(0)
            self.current = job
            try:
                await job.work()
            except (Exception, asyncio.CancelledError) as exc:
                job.error = exc  # told to whoever waits for the job; the queue goes on
            finally:
                self.current = None
                job.done = True

    @staticmethod
    async def settle(jobs: list[Job]) -> list[BaseException]:
        """Wait (outside the lock) until ``jobs`` are done; their errors, in order."""
        if jobs:
            await workflow.wait_condition(lambda: all(job.done for job in jobs))
        return [job.error for job in jobs if job.error is not None]
