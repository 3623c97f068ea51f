"""Helpers the tests share: one way to wait for a condition, and the SMTP catcher's valves.

``assert_eventually`` is the one polling loop of the suite: it retries an assertion until it
holds or a generous deadline passes (the machine may be busy), then raises the last failure.
``Gate`` holds a campaign's first message inside ``DATA``; ``Slow`` makes every ``DATA`` take
a while (a slow SMTP server), so that a test acts while a campaign runs, every time.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from devstack.catcher import MailCatcher, Received
from models.wire import StepView
from workflows.process import ProcessWorkflow

T = TypeVar("T")

# Time skips a test left running in the background (``skip_in_background``): the
# ``skipping_env`` fixture cancels them after each test, pass or fail, before it stops the
# test's own time-skipping server.
PENDING_SKIPS: set[asyncio.Task[None]] = set()


def skip_in_background(env: WorkflowEnvironment, when: datetime) -> asyncio.Task[None]:
    """Move the time-skipping server's clock to ``when`` while the test goes on.

    Await the task before ``handle.result()``: that call unlocks time skipping as well, and
    two unlocks at once can leave the test server's lock count unbalanced (sdk-java#2246:
    "Unbalanced lock and unlock calls")."""

    async def skip() -> None:
        current = await env.get_current_time()
        if when > current:
            await env.sleep(when - current)

    task = asyncio.create_task(skip())
    PENDING_SKIPS.add(task)
    task.add_done_callback(PENDING_SKIPS.discard)
    return task


async def cancel_pending_skips() -> None:
    """Cancel (and wait for) every background skip still running."""
    for task in list(PENDING_SKIPS):
        task.cancel()
    for task in list(PENDING_SKIPS):
        with contextlib.suppress(BaseException):
            await task


async def assert_eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 60.0, every: float = 0.2
) -> T:
    """Await ``check()`` until it returns without an ``AssertionError``; return its value.

    After ``within`` seconds the last ``AssertionError`` is raised, so a failure says what
    was still not true rather than "timed out"."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(every)


async def run_until(
    env: WorkflowEnvironment,
    handle: WorkflowHandle[Any, Any],
    when: datetime,
    *,
    step_within: float = 300.0,
) -> datetime:
    """Let the time-skipping server's clock run to ``when``, one step of the process at a time.

    One long ``env.sleep`` that spans a heavy step (a window closing with hundreds of e-mails)
    can outlast the test server's own timeout on a busy machine. Here each sleep ends at the
    next step's date, and the clock moves on only once the process reports that step done (or
    skipped, or waiting for a decision), however long it took."""
    while True:
        status = await handle.query(ProcessWorkflow.status)
        due = [s for s in status.upcoming if s.at <= when]
        if not due or status.waiting_for:
            break
        step = due[0]
        current = await env.get_current_time()
        if step.at > current:
            await env.sleep(step.at - current)

        async def crossed(step: StepView = step) -> None:
            now = await handle.query(ProcessWorkflow.status)
            over = now.phase in ("completed", "cancelled") or now.waiting_for is not None
            assert over or step.key in now.done or step.key in now.skipped, (
                f"{step.key} ({step.summary}) not done yet"
            )

        await assert_eventually(crossed, within=step_within)
    current = await env.get_current_time()
    if when > current:
        await env.sleep(when - current)
    return when


class Gate:
    """Holds the catcher's first DATA of ``campaign`` until ``open()``."""

    def __init__(self, mail: MailCatcher, campaign: str) -> None:
        self.campaign = campaign
        self.reached = threading.Event()
        self.released = threading.Event()
        self._store = mail.store
        mail.store = self._held  # type: ignore[method-assign]

    def _held(self, item: Received) -> None:
        if item.campaign == self.campaign and not self.released.is_set():
            self.reached.set()
            self.released.wait(30)
        self._store(item)

    def open(self) -> None:
        self.released.set()


class Slow:
    """Every DATA the catcher receives takes ``seconds`` (one at a time: the catcher's loop
    waits), as a slow or throttling SMTP server does."""

    def __init__(self, mail: MailCatcher, seconds: float) -> None:
        self.seconds = seconds
        self._store = mail.store
        mail.store = self._slow  # type: ignore[method-assign]

    def _slow(self, item: Received) -> None:
        time.sleep(self.seconds)
        self._store(item)
