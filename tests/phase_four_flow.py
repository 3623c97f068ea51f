"""A real contest brought to phase IV on the time-skipping server: three projects in C1 (and
in each other category asked for) voted 3, 2 and 1 times, so that all three are shortlisted
at the tally, and a rubric of two criteria in its cycle file."""

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
    projects: list[int]  # C1's
    by_category: dict[str, list[int]]
    owners: dict[int, str]  # project id -> its owner's address


async def phase_four(
    env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    people: list[dict[str, str]],
    categories: tuple[str, ...] = ("C1",),
) -> Running:
    """Start the contest (a worker must be running) and bring it to phase IV. C1's projects
    belong to people 0-2; another category's to people from 20 on; people 3-8 vote."""
    contest = (await cycle_2017(env)).contests[0].model_copy(update={"rubric": RUBRIC})
    handle = await env.client.start_workflow(
        PrizeContestWorkflow.run,
        ContestInput(cycle_id="wsis-2017", year=2017, title="WSIS Prizes 2017", contest=contest),
        id=PID,
        task_queue=settings.task_queue,
    )
    await at(env, contest.submission_opens + timedelta(hours=1))
    by_category: dict[str, list[int]] = {}
    owners: dict[int, str] = {}
    for k, category in enumerate(categories):
        for i in range(3):
            owner = people[i if k == 0 else 20 + 3 * (k - 1) + i]
            project_id, _ = await asyncio.to_thread(
                record_project, PID,
                ProjectForm(owner_email=owner["email"], category=category,
                            title=f"Project {category} {i}" if k else f"Project {i}",
                            description=" ".join(["word"] * 160),
                            stakeholder_type=owner["stakeholder_type"], country=owner["country"]),
                engine, now=contest.submission_opens + timedelta(hours=1),
            )  # fmt: skip
            by_category.setdefault(category, []).append(project_id)
            owners[project_id] = owner["email"]
    await at(env, contest.voting_opens + timedelta(hours=1))
    ballots = [Ballot(people[3 + v]["email"], c, ids[0 if v < 3 else 1 if v < 5 else 2])
               for c, ids in by_category.items() for v in range(6)]  # fmt: skip
    counted = await asyncio.to_thread(
        cast_votes, PID, ballots, engine, now=contest.voting_opens + timedelta(hours=1)
    )
    assert counted == [None] * len(ballots)
    await at(env, contest.voting_closes + timedelta(hours=1))
    assert (await handle.query(PrizeContestWorkflow.shortlists)) == by_category
    return Running(contest, handle, by_category[categories[0]], by_category, owners)
