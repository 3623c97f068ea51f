"""Every dated action of a cycle file, read from the processes' own plans, and whom each
message reaches: what ``start`` previews, and what it refuses when an action is past.

The plans are the workflows' own (``OcpWorkflow.plan``, ``PrizeContestWorkflow.plan``), built
outside any workflow from the file's snapshot: the preview and the run cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from models.cycle import CycleConfig
from models.wire import ContestInput, OcpInput
from workflows.ocp import OcpWorkflow
from workflows.prizes import PrizeContestWorkflow

EVERYONE = "everyone"
NON_SUBMITTERS = "non-submitters"
OWNERS = "project owners"
SECRETARIAT = "secretariat"
EXPERTS = "experts not finished"

# Whom each step's messages go to, by the first part of its key (workflows/ocp.py and
# workflows/prizes.py: the audiences their step actions name).
_OCP_MAIL: Mapping[str, tuple[str, ...]] = {
    "phase:I": (EVERYONE,),
    "invite": (EVERYONE,),
    "meeting-reminder": (EVERYONE,),
    "deadline-reminder": (NON_SUBMITTERS,),
    "phase:V": (EVERYONE,),
    "phase:VI": (EVERYONE,),
}
_CONTEST_MAIL: Mapping[str, tuple[str, ...]] = {
    "phase:I": (EVERYONE,),
    "submission-reminder": (NON_SUBMITTERS,),
    "nominations": (OWNERS,),
    "phase:III": (EVERYONE,),
    "expert-reminder": (EXPERTS,),
    "champions": (EVERYONE, OWNERS, SECRETARIAT),
    "phase:V": (EVERYONE, OWNERS),
}


@dataclass(frozen=True)
class Action:
    """One dated action of one process, and whom its messages go to (empty: none)."""

    process_id: str
    key: str
    at: datetime
    timezone: str
    summary: str
    audiences: tuple[str, ...]


def _mail(table: Mapping[str, tuple[str, ...]], key: str) -> tuple[str, ...]:
    return table.get(key) or table.get(key.split(":", 1)[0], ())


def cycle_actions(cycle: CycleConfig) -> list[Action]:
    """Every action of every process of ``cycle``, earliest first."""
    ocp = OcpWorkflow(
        OcpInput(cycle_id=cycle.cycle_id, year=cycle.year, title=cycle.display_title, ocp=cycle.ocp)
    )
    actions = [
        Action(cycle.ocp_id, s.key, s.at, cycle.ocp.timezone, s.summary, _mail(_OCP_MAIL, s.key))
        for s in ocp.plan()
    ]
    for contest in cycle.contests:
        flow = PrizeContestWorkflow(
            ContestInput(
                cycle_id=cycle.cycle_id,
                year=cycle.year,
                title=cycle.display_title,
                contest=contest,
            )
        )
        actions += [
            Action(
                cycle.contest_id(contest),
                s.key,
                s.at,
                contest.timezone,
                s.summary,
                _mail(_CONTEST_MAIL, s.key),
            )
            for s in flow.plan()
        ]
    return sorted(actions, key=lambda a: (a.at, a.process_id))


def past_actions(cycle: CycleConfig, now: datetime) -> list[Action]:
    """The actions whose time has come by ``now``."""
    return [a for a in cycle_actions(cycle) if a.at <= now]


def reach(audiences: tuple[str, ...], community: int) -> int:
    """How many people a step's messages go to when the cycle starts: the subscribed
    community for announcements and reminders (nobody has submitted yet); owners of projects
    are counted when their phase comes, so they add nothing now; the secretariat is one."""
    people = community if {EVERYONE, NON_SUBMITTERS} & set(audiences) else 0
    return people + (1 if SECRETARIAT in audiences else 0)
