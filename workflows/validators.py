"""What update validators share: refusals on one line, no date in the past, the cycle file's
rules. They run when a change is offered and again once it holds the lock; never on replay."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ValidationError
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.cycle_file import problem_lines


def refuse(problems: list[str]) -> None:
    """Validators: refuse with every problem on one line."""
    if problems:
        raise ValueError("; ".join(problems))


def refuse_past(when: datetime, label: str) -> None:
    """Validators: a change may not put a date in the past."""
    now = workflow.now()
    if when <= now:
        raise ValueError(
            f"{label} {when.isoformat()} is in the past (it is now "
            f"{now.isoformat(timespec='seconds')})"
        )


def refuse_plan(
    rules: type[BaseModel],
    plan: BaseModel,
    *,
    new: datetime | None = None,
    label: str = "the new date",
) -> None:
    """Validators, last: the date the change sets (``new``, if any) is not in the past, and
    ``plan``, the process as the change would make it, passes the cycle file's ``rules``.

    The rules run in validators only: they are not run again on replay, so a rule tightened
    later cannot break a running cycle."""
    if new is not None:
        refuse_past(new, label)
    try:
        rules.model_validate(plan.model_dump())
    except ValidationError as exc:
        raise ValueError("; ".join(problem_lines(exc))) from None
