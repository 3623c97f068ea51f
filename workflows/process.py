"""What the OCP and every prize contest share on the workflow side: windows and status."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.windows import WindowActivities
    from models.wire import ProcessStatus, WindowRequest, WindowResult
    from workflows.machine import PhaseMachine

DB_ACTIVITY_TIMEOUT = timedelta(minutes=2)
DB_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


async def window(action: str, request: WindowRequest, summary: str) -> WindowResult:
    """Open, move, close or cancel an intake window (a database row)."""
    method = {
        "open": WindowActivities.open_window,
        "move": WindowActivities.move_window,
        "close": WindowActivities.close_window,
        "cancel": WindowActivities.cancel_window,
    }[action]
    return await workflow.execute_activity_method(
        method,
        request,
        start_to_close_timeout=DB_ACTIVITY_TIMEOUT,
        retry_policy=DB_RETRY,
        summary=summary,
    )


def status_of(machine: PhaseMachine, timezone: str) -> ProcessStatus:
    """The status query's answer, built from the machine and its current plan."""
    return ProcessStatus(
        process_id=machine.process_id,
        process=machine.process,
        phase=machine.phase_slug(machine.phase),
        phase_name=machine.phase_label(),
        timezone=timezone,
        upcoming=machine.upcoming(),
        done=list(machine.done),
        skipped=list(machine.skipped),
        entered=dict(machine.entered),
        waiting_for=machine.waiting_for,
        cancelled=machine.cancelled,
    )
