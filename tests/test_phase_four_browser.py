"""Chromium: an expert scores one project (a draft, then submitted) and recuses from another;
the Expert Group's lead reads the aggregate and chooses the winner, which the contest's
workflow records. Screenshots in /tmp/shots-17."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from models.tables import Project
from services import judging, staff
from tests.accessibility import serious_violations
from tests.conftest import CHROMIUM_ARGS, SCREENSHOTS, Portal, serve_portal
from tests.phase_four_flow import PID, phase_four
from tests.staff_flow import console_page
from worker import build_worker

pytestmark = [pytest.mark.browser]
SHOTS = SCREENSHOTS / "judging"
_j = Project.__table__  # type: ignore[attr-defined]


@pytest.fixture
def judged(
    settings: Settings, engine: Engine, skipping_env: WorkflowEnvironment
) -> Iterator[Portal]:
    """The portal and its console, on the time-skipping server."""
    address = skipping_env.client.service_client.config.target_host
    with serve_portal(settings, engine, temporal_address=address) as served:
        yield served


async def shot(page: Page, name: str) -> None:
    """A screenshot of the page, and axe-core finds no serious or critical violation on it."""
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    bad = await serious_violations(page)
    assert not bad, f"{name}: {bad}"


async def test_an_expert_scores_and_recuses_and_the_lead_chooses(
    chromium: str, skipping_env: WorkflowEnvironment, judged: Portal, settings: Settings,
    engine: Engine, mail: MailCatcher, participants: list[dict[str, str]],
) -> None:  # fmt: skip
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    sec = staff.add(engine, "sec@itu.int", "secretariat", actor="cli:test")
    expert = staff.add(engine, "expert@itu.int", "expert", actor="cli:test", name="Expert One")
    other = staff.add(engine, "other@itu.int", "expert", actor="cli:test")
    staff.add(engine, "lead@itu.int", "expert-lead", actor="cli:test", name="Lead")
    async with (
        build_worker(skipping_env.client, settings, engine, max_cached_workflows=0),
        async_playwright() as pw,
    ):
        run = await phase_four(skipping_env, settings, engine, participants)
        first, _, third = run.projects
        for member in (expert, other):
            judging.assign(engine, member, PID, "C1", actor=sec.actor)
        judging.save(engine, other, third, {"impact": "9", "reach": "4"}, "", submit=True)
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)

        page = await console_page(browser, judged.url, mail, engine, "expert@itu.int")
        await page.get_by_role("link", name="Judging").click()
        await expect(page.get_by_text("Progress: 0 of 3")).to_be_visible()
        await shot(page, "01-expert-list")
        await page.get_by_role("link", name="Project 2").click()
        await page.get_by_label("Impact").fill("8")
        await page.get_by_label("Comment").fill("Serves remote villages.")
        await page.get_by_role("button", name="Keep as a draft").click()
        await expect(page.get_by_label("Impact")).to_have_value("8")
        await page.get_by_label("Reach").fill("5")
        await shot(page, "02-score-sheet-draft")
        await page.get_by_role("button", name="Submit the score sheet").click()
        await expect(page.get_by_text("Submitted.")).to_be_visible()
        await shot(page, "03-score-sheet-submitted")
        await page.goto(f"{judged.url}/staff/judging/{first}")
        await page.get_by_label("Reason (internal)").fill("My employer funds it")
        await page.get_by_role("button", name="I have a conflict of interest: recuse me").click()
        await expect(page.get_by_text("You declared a conflict of interest")).to_be_visible()
        assert await page.locator("input[name^='score:']").count() == 0
        await shot(page, "04-recused")
        await page.goto(f"{judged.url}/staff/judging")
        await expect(page.get_by_text("Progress: 2 of 3")).to_be_visible()
        assert await page.get_by_role("link", name="Decision").count() == 0

        lead = await console_page(browser, judged.url, mail, engine, "lead@itu.int")
        await lead.get_by_role("link", name="Decision").click()
        await expect(lead.get_by_role("heading", name="C1")).to_be_visible()
        assert await lead.get_by_role("columnheader", name="Valid votes").count() == 0
        await shot(lead, "05-decision")
        await lead.locator(f"input[name='project'][value='{third}']").check()
        await lead.get_by_role("button", name="Choose the winner of C1").click()
        await expect(lead.locator("tr.winner")).to_contain_text("Project 2")
        await shot(lead, "06-winner-chosen")
        await browser.close()
        assert (await run.handle.query("shortlists")) == {"C1": run.projects}

    with engine.connect() as conn:
        winners = conn.execute(sa.select(_j.c.id).where(_j.c.winner.is_(sa.true()))).scalars()
        assert list(winners) == [third]
