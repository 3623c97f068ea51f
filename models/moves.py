"""A cycle moved in time: the Forum moved to new dates (what is held there follows), and the
whole calendar rebased to begin at another instant, faster (the demo, the tests).

At the edges only (the CLI, the cycle workflow's update validator, the demo, the tests):
keeping a local time across a change of summer time takes the time-zone database.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from models.cycle import CycleConfig
from models.plan import CyclePlan

M = TypeVar("M", bound=BaseModel)


def map_times(
    model: M, on_instant: Callable[[datetime], datetime], on_span: Callable[[timedelta], timedelta]
) -> M:
    """A copy of ``model`` with every datetime and duration in it mapped (validation re-runs)."""

    def walk(value: Any) -> Any:
        if isinstance(value, datetime):
            return on_instant(value)
        if isinstance(value, timedelta):
            return on_span(value)
        if isinstance(value, BaseModel):
            return {k: walk(getattr(value, k)) for k in type(value).model_fields}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    return type(model).model_validate(walk(model))


def forum_moved(cycle: CyclePlan, starts: datetime, ends: datetime, now: datetime) -> CyclePlan:
    """The cycle with its Forum moved to ``starts``-``ends``: what is held at the Forum (the
    OCP's phase VI, its final brief and meetings, and every contest's ceremony) moves by the
    same number of days at the same local time, unless it is past.

    At the edges only (the CLI, the cycle's validator): keeping a local time across a change
    of summer time takes the time-zone database.
    """
    zone = ZoneInfo(cycle.timezone)
    days = timedelta(
        days=(starts.astimezone(zone).date() - cycle.forum.starts.astimezone(zone).date()).days
    )

    def later(when: datetime, zone_name: str) -> datetime:
        if when <= now:
            return when
        local = when.astimezone(ZoneInfo(zone_name))
        return (local.replace(tzinfo=None) + days).replace(tzinfo=ZoneInfo(zone_name))

    ocp = cycle.ocp
    meetings = {
        key: m.model_copy(
            update={"starts": later(m.starts, m.timezone), "ends": later(m.ends, m.timezone)}
        )
        for key, m in ocp.meetings.items()
        if m.phase == "VI"
    }
    brief = later(ocp.final_brief, ocp.timezone) if ocp.final_brief else None
    return cycle.model_copy(
        update={
            "forum": cycle.forum.model_copy(update={"starts": starts, "ends": ends}),
            "ocp": ocp.with_forum_dates(brief, meetings),
            "contests": tuple(
                c.model_copy(update={"ceremony": later(c.ceremony, c.timezone)})
                for c in cycle.contests
            ),
        }
    )


def first_instant(config: CycleConfig) -> datetime:
    """The earliest dated step of the cycle."""
    instants = [*config.ocp.phase_starts().values()]
    instants += [c.submission_opens for c in config.contests]
    return min(instants)


def rebased(config: CycleConfig, start: datetime, *, speedup: float = 1.0) -> CycleConfig:
    """The same cycle moved to begin at ``start``, its calendar ``speedup`` times faster.

    The demo runs a real cycle file squeezed into minutes, and the tests move the 2017
    calendar to the time-skipping server's clock: same workflow code, only the dates differ.
    Instants come out in UTC so that no zone offset check can trip on the move.
    """
    origin = first_instant(config)
    return map_times(
        config,
        lambda t: (start + (t - origin) / speedup).astimezone(UTC),
        lambda d: d / speedup,
    )
