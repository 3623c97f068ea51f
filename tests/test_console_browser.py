"""The secretariat runs a year from the console in Chromium, on the real Temporal dev server:
sign in with the e-mailed link and an authenticator code, roll last year's file forward,
preview and start a cycle, see a submission made through the portal and export it, mark a
project ineligible, change a deadline with a public notice in two languages. Every console
page is photographed at 1280 px (``/tmp/shots-16/``); a hostile title stays text throughout.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
import tomli_w
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from models.cycle_file import load_cycle
from models.moves import rebased
from models.tables import OcpSubmission, Project, Window
from services import cycle_files, staff
from tests.accessibility import serious_violations
from tests.conftest import CHROMIUM_ARGS, SCREENSHOTS, Portal, serve_portal
from tests.helpers import assert_eventually
from tests.portal_flow import add_window, signed_in, token_of
from tests.staff_flow import staff_link
from worker import build_worker

pytestmark = [pytest.mark.browser, pytest.mark.devserver]
ROOT = Path(__file__).resolve().parent.parent
SHOTS = SCREENSHOTS / "console"
XSS = "<img src=x onerror=alert(1)>"
SECRETARIAT = "officer@itu.int"
CYCLE = "wsis-2024-console"
_j = Project.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]


@pytest.fixture
def console(
    settings: Settings, engine: Engine, dev_env: WorkflowEnvironment, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Portal]:  # fmt: skip
    """The portal (and its console) on the dev server, with drafts kept in ``tmp_path``."""
    monkeypatch.setattr(cycle_files, "DRAFTS", tmp_path / "drafts")
    address = dev_env.client.service_client.config.target_host
    with serve_portal(settings, engine, temporal_address=address) as served:
        yield served


async def shot(page: Page, name: str) -> None:
    """A screenshot of the page at 1280 px, no hostile markup came alive on it, and axe-core
    finds no serious or critical WCAG 2.1 A/AA violation."""
    assert await page.locator("img[src='x']").count() == 0, name
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    bad = await serious_violations(page)
    assert not bad, f"{name}: {bad}"


def draft_cycle(folder: Path) -> None:
    """The 2024 cycle, its OCP opening in 30 s and running 2,000 times faster than life.
    Drafted just before its preview, so that a busy machine's slow sign-in cannot make its
    opening past before the secretariat clicks Start."""
    cycle = rebased(
        load_cycle(ROOT / "cycles" / "2024.toml"),
        datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=30),
        speedup=2000,
    ).model_copy(update={"id": CYCLE})
    folder.mkdir(parents=True, exist_ok=True)
    data = cycle.model_dump(mode="json", exclude_none=True)
    (folder / f"{CYCLE}.toml").write_text(tomli_w.dumps(data), encoding="utf-8")


def nomination_contest(engine: Engine) -> int:
    """A contest in its nomination phase with one hostile project title; its id."""
    now = datetime.now(UTC)
    rules = {"categories": ["C1"], "description_words": [1, 500]}
    add_window(engine, "wsis-2030-prizes", "project-submissions", rules,
               now - timedelta(days=9), now - timedelta(days=1))  # fmt: skip
    add_window(engine, "wsis-2030-prizes", "nomination", {}, now - timedelta(days=1),
               now + timedelta(days=1))  # fmt: skip
    with engine.begin() as conn:
        return int(
            conn.execute(
                _j.insert().values(
                    process_id="wsis-2030-prizes", category="C1", title=XSS, title_key="x",
                    description="A community network for villages.", owner_id=3,
                    organization="Tsinghua University", stakeholder_type="Academia",
                    country="China", submitted_at=now, status="eligible",
                    shortlisted=False, winner=False,
                ).returning(_j.c.id)
            ).scalar_one()
        )  # fmt: skip


async def test_a_secretariat_runs_a_year_from_the_console(
    chromium: str, dev_env: WorkflowEnvironment, console: Portal, engine: Engine,
    mail: MailCatcher, participants: list[dict[str, str]],
) -> None:  # fmt: skip
    await asyncio.to_thread(SHOTS.mkdir, parents=True, exist_ok=True)
    member = staff.add(
        engine, SECRETARIAT, "secretariat", actor="cli:test", name="Programme Officer"
    )
    project_id = nomination_contest(engine)
    url = console.url
    async with build_worker(dev_env.client, console.settings, engine), async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(locale="en-GB", viewport={"width": 1280, "height": 900})
        # Sign in: the address, the e-mailed link and its button, the authenticator's code.
        await page.goto(f"{url}/staff/")
        await expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
        await shot(page, "01-signin")
        await page.get_by_label("E-mail address").fill(SECRETARIAT)
        await page.get_by_role("button", name="Send me a link").click()
        await expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
        await page.goto(await staff_link(mail, SECRETARIAT))
        await page.get_by_role("button", name="Continue").click()
        await expect(page.locator("figure.qr svg")).to_be_visible()
        await shot(page, "02-second-factor-enrolment")
        secret = (await page.locator("#totp-secret").inner_text()).strip()
        await page.get_by_label("Code").fill(
            "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
        )
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_text("That code is not right")).to_be_visible()
        await page.get_by_label("Code").fill(pyotp.TOTP(secret).now())
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="At a glance")).to_be_visible()

        # Roll last year's file forward, side by side, and keep it as a draft.
        await page.goto(f"{url}/staff/next-cycle")
        await page.get_by_label("From").select_option("2024.toml")
        await page.get_by_label("Year").fill("2025")
        await page.get_by_role("button", name="Roll forward").click()
        await expect(page.locator("#text")).to_contain_text("year = 2025")
        await shot(page, "03-next-cycle")
        await page.get_by_role("button", name="Check and save the draft").click()
        await expect(page.get_by_text("Saved as a draft:")).to_be_visible()
        assert (cycle_files.DRAFTS / "2025.toml").is_file()

        # Preview the cycle (every action, Geneva and UTC, whom it reaches), then start it.
        draft_cycle(cycle_files.DRAFTS)
        await page.goto(f"{url}/staff/start?file={CYCLE}.toml")
        await expect(page.get_by_text("The file passes every check.")).to_be_visible()
        await expect(page.locator("tr.past")).to_have_count(0)
        await shot(page, "04-start-preview")
        await page.get_by_role("button", name="Start this cycle").click()
        await expect(page.get_by_role("heading", name="Cycle started")).to_be_visible()
        await shot(page, "05-started")

        # A participant submits through the portal once the form opens.
        async def form_open() -> None:  # the opening is 30 s away, the machine may be busy
            with engine.connect() as conn:
                state = conn.execute(
                    sa.select(_w.c.state).where(_w.c.process_id == f"{CYCLE}-ocp")
                ).scalar()
            assert state == "open", state

        await assert_eventually(form_open, within=100, every=0.25)
        opening = f"{CYCLE}-ocp:opening"  # its announcement first: then the sign-in link

        async def everyone_told(campaign: str = opening) -> None:
            assert len(mail.per_recipient(campaign)) == len(participants), campaign

        await assert_eventually(everyone_told)
        person = participants[6]
        async with signed_in(url, mail, person["email"]) as portal_browser:
            form_page = await portal_browser.get(f"/ocp/{CYCLE}-ocp")
            sent = await portal_browser.post(f"/ocp/{CYCLE}-ocp", data={
                "full_name": person["name"], "organization": person["organization"],
                "country": person["country"], "stakeholder_type": person["stakeholder_type"],
                "proposal": "=HYPERLINK(\"http://x\") and a youth track",
                "csrf": token_of(form_page.text),
            })  # fmt: skip
            # Received: post, redirect, get (a reload never sends it again).
            assert sent.status_code == 303, sent.text
            assert sent.headers["location"].startswith("/received/submission/")

        # The console shows it, and exports it.
        await page.goto(f"{url}/staff/?cycle={CYCLE}")
        await expect(page.get_by_role("heading", name=f"{CYCLE}-ocp")).to_be_visible()
        await shot(page, "06-at-a-glance")
        await page.goto(f"{url}/staff/submissions?process_id={CYCLE}-ocp")
        await expect(page.get_by_role("cell", name=person["name"])).to_be_visible()
        await shot(page, "07-submissions")
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="CSV").click()
        exported = Path(await (await download_info.value).path())
        text = await asyncio.to_thread(exported.read_text, encoding="utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert [r["full_name"] for r in rows] == [person["name"]]
        assert rows[0]["proposal"].startswith("'=HYPERLINK")
        await page.get_by_role("link", name="1", exact=True).first.click()
        await expect(page.get_by_text("a youth track")).to_be_visible()
        await shot(page, "08-submission-detail")

        # Eligibility: the queue with the rules' results; one project marked ineligible.
        await page.goto(f"{url}/staff/eligibility?contest=wsis-2030-prizes")
        await expect(page.get_by_text(XSS)).to_be_visible()
        await shot(page, "09-eligibility")
        await page.get_by_label("Reason").select_option("out-of-scope")
        await page.get_by_label("Internal note").fill("checked with the Action Line facilitator")
        await page.get_by_role("button", name="Mark ineligible").click()
        await expect(page.get_by_text("The project is outside the contest's scope")).to_be_visible()
        with engine.connect() as conn:
            status = conn.execute(sa.select(_j.c.status).where(_j.c.id == project_id)).scalar()
        assert status == "ineligible"

        # A deadline moved, with a public notice in English and French.
        await page.goto(f"{url}/staff/changes?kind=deadline")
        await page.get_by_label("Cycle").select_option(CYCLE)
        await page.get_by_label("Process").fill("ocp")
        ocp = load_cycle(cycle_files.DRAFTS / f"{CYCLE}.toml").ocp
        new = (ocp.submission_deadline + timedelta(minutes=5)).replace(microsecond=0).isoformat()
        await page.get_by_label("New date and time").fill(new)
        await page.get_by_label("Internal reason").fill("room booking clash (internal)")
        await page.locator("#notice_en").fill("The consultation stays open longer.")
        await page.locator("#notice_fr").fill("La consultation reste ouverte plus longtemps.")
        await shot(page, "10-change-form")
        await page.get_by_role("button", name="Review the change").click()
        await expect(page.get_by_role("heading", name="Confirm the change")).to_be_visible()
        await expect(
            page.get_by_text("These languages will read the English notice")
        ).to_be_visible()
        await shot(page, "11-change-confirm")
        await page.get_by_role("button", name="Confirm and send").click()
        await expect(page.get_by_text("accepted")).to_be_visible()
        await shot(page, "12-change-sent")

        # The remaining pages, looked at.
        for name, path in (
            ("13-participants", "/staff/participants"), ("14-projects", "/staff/projects"),
            ("15-project-detail", f"/staff/projects/{project_id}"),
            ("16-participant-detail", "/staff/participants/3"),
            ("17-accounts", "/staff/accounts"), ("18-audit", "/staff/audit"),
        ):  # fmt: skip
            await page.goto(f"{url}{path}")
            await shot(page, name)
        await expect(page.get_by_text("change.change_deadline")).to_be_visible()
        await browser.close()
        # Everyone is told of the new deadline: French in French, Chinese in English, said
        # so; the internal reason in nobody's mail.
        campaign = f"{CYCLE}-ocp:deadline-change:1"
        await assert_eventually(lambda: everyone_told(campaign))
        await dev_env.client.get_workflow_handle(CYCLE).terminate("test over")
    bodies = {
        m.message["Content-Language"]: m.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for m in mail.received
        if m.campaign == campaign
    }
    assert "La consultation reste ouverte plus longtemps." in bodies["fr"]
    assert "The consultation stays open longer." in bodies["zh"] and "英文" in bodies["zh"]
    assert not any("room booking" in body for m in mail.received for body in [str(m.message)])
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(OcpSubmission)).scalar() == 1
    assert staff.find(engine, staff_id=member.id) is not None
