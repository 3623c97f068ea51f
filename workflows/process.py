"""What the OCP and every prize contest share on the workflow side: windows and status."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.windows import WindowActivities
    from models.cycle import ContestConfig, OcpConfig
    from models.cycle_file import problem_lines
    from models.phases import COMPLETED
    from models.plan import ContestPlan, OcpPlan
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


M = TypeVar("M", bound=BaseModel)
# The cycle file's rules for each snapshot a workflow carries.
_RULES: dict[type[BaseModel], type[BaseModel]] = {OcpPlan: OcpConfig, ContestPlan: ContestConfig}


def refuse_past(when: datetime, label: str) -> None:
    """Validators: a change may not put a date in the past."""
    now = workflow.now()
    if when <= now:
        raise ValueError(
            f"{label} {when.isoformat()} is in the past (it is now "
            f"{now.isoformat(timespec='seconds')})"
        )


def revalidated(model: M, **changes: Any) -> M:
    """``model`` with ``changes``, checked by the same rules as the cycle file."""
    rules: Any = _RULES.get(type(model), type(model))
    try:
        checked: M = rules.model_validate({**model.model_dump(), **changes})
        return checked
    except ValidationError as exc:
        raise ValueError("; ".join(problem_lines(exc))) from None


def refuse_if_ended(machine: PhaseMachine) -> None:
    """Validators: a cancelled or completed process takes no more changes."""
    if machine.cancelled:
        raise ValueError(f"{machine.process_id} was cancelled: {machine.cancelled}")
    if machine.phase == COMPLETED:
        raise ValueError(f"{machine.process_id} is complete")
