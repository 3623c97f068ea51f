"""Taking turns on a process's lock: a step's state and a secretariat's change never
interleave, and a change is checked again once it holds the lock.

A change is accepted at once (its validator passed) and waits for the lock, listed in
``status`` as pending; once it holds the lock its validator runs again (``turn``), as
samples-python's ``message_passing/safe_message_handlers`` does. Since the
``campaigns-outside-lock`` patch the mail a change queues is waited for after the lock is let
go (workflows/longwork.py). A cancel does not wait at all before it stops the mail under way
(``interrupt``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from workflows.machine import PhaseMachine

# A change found no longer valid once it holds the lock is refused (before this patch it was
# applied): the marker is written only when a refusal happens, so old histories replay as is.
RECHECK_PATCH = "recheck-under-lock"


def refuse_in_turn(what: str, exc: ValueError) -> None:
    """A change found no longer valid once it holds the lock (``exc`` says why): refused with
    an ``ApplicationError``, since the ``recheck-under-lock`` patch; applied before it."""
    if workflow.patched(RECHECK_PATCH):
        raise ApplicationError(
            f"{what} refused once its turn came: {exc}", type="ChangeRefused", non_retryable=True
        ) from None


class TakingTurns:
    """The lock's protocol for a process; see the module docstring."""

    machine: PhaseMachine
    pending_changes: list[str]  # accepted, waiting for the lock
    running_campaigns: set[Any]  # campaign calls under way (a cancel stops them)

    @contextlib.asynccontextmanager
    async def turn(self, what: str, recheck: Callable[[], None]) -> AsyncIterator[None]:
        """Hold the lock for an accepted change, then apply it.

        The change waits here, listed in ``status`` as pending, while the lock's holder ends
        its turn (a step's state changes; before the ``campaigns-outside-lock`` patch, the
        whole step and its campaigns). Once the lock is held, ``recheck`` (the validator) runs
        again: a cancel, the end of the process or a date that passed meanwhile refuses the
        change with an ``ApplicationError`` that says why, instead of applying it.
        """
        self.pending_changes.append(what)
        try:
            await self.machine.lock.acquire()
        finally:
            self.pending_changes.remove(what)
        async with self._held():
            try:
                recheck()
            except ValueError as exc:
                refuse_in_turn(what, exc)
            yield

    @contextlib.asynccontextmanager
    async def holding(self) -> AsyncIterator[None]:
        """Take the lock, apply a change, let go; then wait for the mail it queued."""
        await self.machine.lock.acquire()
        async with self._held():
            yield

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        """The lock is held: release it at the end, then wait (outside it) for the jobs
        queued meanwhile, and raise the first one's error. Nothing is queued before the
        ``campaigns-outside-lock`` patch: campaigns ran in place, under the lock."""
        m = self.machine
        jobs = m.work.hold() if m.outside_lock else []
        try:
            yield
        finally:
            m.work.held = None
            m.lock.release()
        errors = await m.work.settle(jobs)
        if errors:
            raise errors[0]

    def interrupt(self, reason: str) -> None:
        """A cancel was accepted: stop every campaign under way now, without waiting for the
        lock (the activity hears it at its next heartbeat; its unsent rows stay unsent)."""
        self.machine.stopping = reason
        self.machine.work.drop_waiting()  # queued mail not yet begun is never sent
        for handle in list(self.running_campaigns):
            handle.cancel()
