"""A real contest brought to phase IV on the time-skipping server: three projects in C1
voted 3, 2 and 1 times, so that all three are shortlisted at the tally, and a rubric of two
criteria in its cycle file."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from intake.prizes import ProjectForm, record_project
from intake.votes import Ballot, cast_votes
from models.cycle import ContestConfig, Criterion
from models.wire import ContestInput
from tests.test_changes import at, cycle_2017
from workflows.prizes import PrizeContestWorkflow

PID = "wsis-2017-prizes"
RUBRIC = (
    Criterion(code="impact", name="Impact", weight=2, low=1, high=10),
    Criterion(code="reach", name="Reach", weight=1, low=1, high=5),
)


@dataclass
class Running:
    """The contest's plan, its workflow and its shortlisted projects (most voted first)."""

    contest: ContestConfig
    handle: WorkflowHandle[Any, Any]
    projects: list[int]


async def phase_four(
    env: WorkflowEnvironment, settings: Settings, engine: Engine, people: list[dict[str, str]]
) -> Running:
    """Start the contest (a worker must be running) and bring it to phase IV."""
    contest = (await cycle_2017(env)).contests[0].model_copy(update={"rubric": RUBRIC})
    handle = await env.client.start_workflow(
        PrizeContestWorkflow.run,
        ContestInput(cycle_id="wsis-2017", year=2017, title="WSIS Prizes 2017", contest=contest),
        id=PID,
        task_queue=settings.task_queue,
    )
    await at(env, contest.submission_opens + timedelta(hours=1))
    projects = []
    for i in range(3):
        owner = people[i]
        project_id, _ = await asyncio.to_thread(
            record_project, PID,
            ProjectForm(owner_email=owner["email"], category="C1", title=f"Project {i}",
                        description=" ".join(["word"] * 160),
                        stakeholder_type=owner["stakeholder_type"], country=owner["country"]),
            engine, now=contest.submission_opens + timedelta(hours=1),
        )  # fmt: skip
        projects.append(project_id)
    await at(env, contest.voting_opens + timedelta(hours=1))
    ballots = [Ballot(people[3 + v]["email"], "C1", projects[0 if v < 3 else 1 if v < 5 else 2])
               for v in range(6)]  # fmt: skip
    counted = await asyncio.to_thread(
        cast_votes, PID, ballots, engine, now=contest.voting_opens + timedelta(hours=1)
    )
    assert counted == [None] * 6
    await at(env, contest.voting_closes + timedelta(hours=1))
    assert (await handle.query(PrizeContestWorkflow.shortlists)) == {"C1": projects}
    return Running(contest, handle, projects)
