"""Calling a process's database activities from workflow code (idempotent, retried freely).

Every write carries the history's length as its revision (``revision``), so that a late,
retried write of an older change can never land over a newer one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.windows import WindowActivities
    from models.wire import WindowRequest, WindowResult

In = TypeVar("In")
Out = TypeVar("Out")

DB_ACTIVITY_TIMEOUT = timedelta(minutes=2)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


def revision() -> int:
    """The history's length now: it grows with every workflow task, so a later write always
    carries a higher revision, and replays give the same number."""
    return workflow.info().get_current_history_length()


async def db_step(method: Callable[[Any, In], Out], arg: In, summary: str) -> Out:
    """Run a database activity of a process: ``method`` is the activity's method, ``arg``
    its one input, typed end to end."""
    result: Out = await workflow.execute_activity_method(
        method,
        arg,
        start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
        retry_policy=DB_RETRY,
        summary=summary,
    )
    return result


WindowStep = Callable[[WindowActivities, WindowRequest], WindowResult]


async def window(action: WindowStep, request: WindowRequest, summary: str) -> WindowResult:
    """Open, move, close or cancel an intake window (a database row): ``action`` is one of
    ``WindowActivities``' methods; the request carries the history's length as revision.
    (The same activity call as ``db_step``, made here directly: one hop less on every path
    from a change or a phase boundary to its window.)"""
    result: WindowResult = await workflow.execute_activity_method(
        action,
        request.model_copy(update={"revision": revision()}),
        start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
        retry_policy=DB_RETRY,
        summary=summary,
    )
    return result
