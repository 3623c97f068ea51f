"""The home page tells the truth about a contest that really runs: the phase is the one its
workflow holds (the status query through Temporal), with the phases to come and their
dates; after the WSIS Prize Ceremony it shows the winner and no stale phase; the results
page names its contest. A real PrizeContestWorkflow on the time-skipping test server, a
real worker, the real portal under uvicorn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from intake.prizes import record_project
from intake.votes import Ballot, cast_votes
from models.cycle_file import load_cycle
from models.moves import rebased
from models.wire import ContestInput, WinnerSelection
from portal.pages import LANGUAGE_COOKIE
from tests.conftest import ROOT, free_port, serve_portal
from tests.test_prizes import project_form
from worker import build_worker
from workflows.prizes import PrizeContestWorkflow

PROCESS = "wsis-2017-prizes"


@pytest.fixture
async def home(
    skipping_env: WorkflowEnvironment, settings: Settings, engine: Engine
) -> AsyncIterator[httpx.AsyncClient]:
    """The portal reading the phases through the test server's client, and a visitor."""
    with serve_portal(settings, engine, temporal=skipping_env.client) as served:
        async with httpx.AsyncClient(
            base_url=served.url, cookies={LANGUAGE_COOKIE: "en"}
        ) as visitor:
            yield visitor


async def test_the_home_page_follows_the_contests_workflow_to_its_winners(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    participants: list[dict[str, str]],
    home: httpx.AsyncClient,
) -> None:
    env = skipping_env
    now = await env.get_current_time()
    cycle = rebased(load_cycle(ROOT / "cycles" / "2017.toml"), now + timedelta(hours=1))
    contest = cycle.contests[0]

    async def at(when: datetime) -> None:
        current = await env.get_current_time()
        if when > current:
            await env.sleep(when - current)

    async with build_worker(env.client, settings, engine, max_cached_workflows=0):
        handle = await env.client.start_workflow(
            PrizeContestWorkflow.run,
            ContestInput(
                cycle_id="wsis-2017", year=2017, title=cycle.display_title, contest=contest
            ),
            id=PROCESS,
            task_queue=settings.task_queue,
        )
        await at(contest.submission_opens + timedelta(hours=1))
        project, _ = await asyncio.to_thread(
            record_project, PROCESS, project_form(participants[0], "C1", "Mesh for Villages"),
            engine, now=contest.submission_opens + timedelta(hours=1),
        )  # fmt: skip
        page = (await home.get("/")).text
        # (The windows are judged by the real clock, which the test server's does not move:
        # only what the workflow says is asserted.)
        assert "Phase I: Submission" in page
        assert "Coming next" in page and "Phase II: Nomination" in page
        assert "Phase V: Announcement at the WSIS Prize Ceremony" in page

        await at(contest.voting_opens + timedelta(hours=1))
        ballot = Ballot(participants[1]["email"], "C1", project)
        await asyncio.to_thread(cast_votes, PROCESS, [ballot], engine, now=contest.voting_opens)
        assert "Phase III: Public online voting" in (await home.get("/")).text

        await at(contest.voting_closes + timedelta(hours=1))
        page = (await home.get("/")).text
        assert "Phase IV: Selection by the Expert Group" in page
        await handle.execute_update(
            PrizeContestWorkflow.select_winner,
            WinnerSelection(category="C1", project_ids=[project], requested_by="expert-group"),
        )
        await handle.result()  # the test server skips to the ceremony and past it

        page = (await home.get("/")).text
        assert "Completed" in page and "Mesh for Villages" in page and "Winner" in page
        for stale in ("Phase IV", "will be announced", "Coming next", "Public online voting"):
            assert stale not in page, stale
        results = (await home.get(f"/results/{PROCESS}")).text
        assert cycle.contests[0].name in results and "Mesh for Villages" in results


async def test_without_temporal_the_home_page_claims_no_phase(
    settings: Settings, engine: Engine
) -> None:
    """Temporal out of reach: the page says what the windows say, and no phase at all."""
    from portal.home import process_cards
    from portal.states import ProcessStates
    from tests.portal_flow import add_window

    now = datetime.now().astimezone()
    add_window(
        engine, "wsis-2030-prizes", "voting", {}, now - timedelta(days=1), now + timedelta(days=1)
    )
    down = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    cards = await process_cards(engine, ProcessStates(down))
    assert [c.state for c in cards] == ["unknown"] and cards[0].phase is None
    assert cards[0].window and cards[0].window.state == "open"


async def test_the_ocp_shows_its_meetings_with_a_calendar_file(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    participants: list[dict[str, str]],
    home: httpx.AsyncClient,
) -> None:
    """The meetings come from the cycle's own plan (the cycle workflow's plan query)."""
    from cli.cycle import start_cycle

    now = await skipping_env.get_current_time()
    cycle = rebased(load_cycle(ROOT / "cycles" / "2017.toml"), now + timedelta(hours=1))
    async with build_worker(skipping_env.client, settings, engine, max_cached_workflows=0):
        await start_cycle(skipping_env.client, cycle, settings.task_queue, recipients=30)
        await skipping_env.sleep(cycle.ocp.opens - now + timedelta(minutes=5))
        page = (await home.get("/")).text
        key, meeting = min(cycle.ocp.meetings.items(), key=lambda km: km[1].starts)
        assert "Meetings" in page and meeting.title in page
        link = f"/meetings/{cycle.ocp_id}/{key}.ics"
        assert f'href="{link}"' in page
        home.cookies.set(LANGUAGE_COOKIE, "ru")
        ics = await home.get(link)
        assert ics.headers["content-type"].startswith("text/calendar")
        assert "BEGIN:VEVENT" in ics.text and "LANGUAGE=ru" in ics.text
        assert (await home.get(f"/meetings/{cycle.ocp_id}/nope.ics")).status_code == 404
