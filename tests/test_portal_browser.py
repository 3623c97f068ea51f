"""A person at the portal's front door, in the system Chromium (headless, driven by
Playwright, no browser download): sign up, read the .eml the catcher saved, open the link,
confirm, land signed in; then unsubscribe from a real announcement's List-Unsubscribe URL as
a mail provider does (a cookie-less POST), and the next announcement skips them while a
sign-in link still reaches them. Screenshots go to var/screenshots/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.async_api import Page, async_playwright, expect
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core import i18n
from devstack.catcher import MailCatcher
from models.tables import Vote, Window
from models.wire import Audience, CampaignRequest, MessageKind
from portal.pages import LANGUAGE_COOKIE
from tests.conftest import CHROMIUM_ARGS, SCREENSHOTS, Portal
from tests.helpers import assert_eventually
from tests.portal_flow import Contest, sign_in_mail
from worker import build_worker
from workflows.announcement import AnnouncementInput, AnnouncementWorkflow

pytestmark = pytest.mark.browser
ADDRESS = "leila.haddad@example.org"


def saved_messages(folder: Path, to: str) -> list[EmailMessage]:
    """The .eml files the catcher saved for ``to``, oldest first (as a person reads them)."""
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if to in str(message["To"]):
            found.append(message)
    return found


async def newest(folder: Path, to: str, count: int) -> EmailMessage:
    """Message number ``count`` the catcher saved for ``to`` (waits for it)."""

    async def arrived() -> EmailMessage:
        found = saved_messages(folder, to)
        assert len(found) >= count, f"message {count} to {to} never arrived"
        return found[count - 1]

    return await assert_eventually(arrived)


async def announce(env: WorkflowEnvironment, portal: Portal, engine: Engine, key: str) -> None:
    """A bulk announcement to everyone, sent by the real campaign activity."""
    request = CampaignRequest(
        key=key,
        process_id="adhoc",
        kind=MessageKind.PROCESS_CANCELLED,
        audience=Audience.EVERYONE,
        title="WSIS Forum",
        timezone="Europe/Zurich",
        note="A test announcement.",
    )
    async with build_worker(env.client, portal.settings, engine):
        await env.client.execute_workflow(
            AnnouncementWorkflow.run,
            AnnouncementInput(request=request),
            id=f"announcement-{key}",
            task_queue=portal.settings.task_queue,
        )


async def test_a_person_signs_up_signs_in_and_unsubscribes_in_chromium(
    chromium: str,
    skipping_env: WorkflowEnvironment,
    portal: Portal,
    engine: Engine,
    mail: MailCatcher,
    tmp_path: Path,
    participants: list[dict[str, str]],  # the others, who still get announcements
) -> None:
    inbox = tmp_path / "mail"
    mail.folder = inbox  # the catcher saves each message as a .eml file, as in make demo
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await browser.new_page(locale="en-GB")
        await page.goto(f"{portal.url}/signup")
        await page.get_by_label("Full name").fill("Leila Haddad")
        await page.get_by_label("Organization").fill("Digital Rights Lebanon")
        await page.get_by_label("Country").select_option("LB")  # a select, named in CLDR
        await page.get_by_label("Stakeholder type").select_option("Civil Society")
        await page.get_by_label("E-mail address").fill(ADDRESS)
        await page.get_by_label("I have read the privacy notice").check()
        await page.get_by_role("button", name="Sign up and send me a link").click()
        await expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()

        sign_in = await newest(inbox, ADDRESS, 1)
        text = sign_in.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"https?://\S+/signin/link/[\w-]+", text)
        assert link, text
        assert "List-Unsubscribe" not in sign_in  # transactional
        await page.goto(link.group(0))
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Welcome, Leila Haddad")).to_be_visible()
        await page.screenshot(path=str(SCREENSHOTS / "portal-signed-in.png"), full_page=True)

        # A real announcement: its List-Unsubscribe header points at the portal.
        await announce(skipping_env, portal, engine, "browser-first")
        bulk = await newest(inbox, ADDRESS, 2)
        assert bulk["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsubscribe = re.search(r"<(https?://[^>]+)>", str(bulk["List-Unsubscribe"]))
        assert unsubscribe and unsubscribe.group(1).startswith(f"{portal.url}/unsubscribe/")
        # A person who opens it sees a page with a button...
        await page.goto(unsubscribe.group(1))
        await expect(page.get_by_role("button", name="Unsubscribe")).to_be_visible()
        await browser.close()

    # ...a mail provider posts the one-click body, with no cookie and no form token.
    async with httpx.AsyncClient() as provider:
        for _ in range(2):  # idempotent
            done = await provider.post(
                unsubscribe.group(1),
                content=b"List-Unsubscribe=One-Click",
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert done.status_code == 200 and "You are unsubscribed" in done.text

    await announce(skipping_env, portal, engine, "browser-second")
    first = {address for _, address in mail.per_recipient("browser-first")}
    second = {address for _, address in mail.per_recipient("browser-second")}
    assert ADDRESS in first and ADDRESS not in second and second  # the others still get it
    # Transactional mail still reaches them.
    async with httpx.AsyncClient(base_url=portal.url) as again:
        form = await again.get("/signin")
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', form.text)
        assert csrf
        await again.post("/signin", data={"email": ADDRESS, "csrf": csrf.group(1)})
    link_again = await newest(inbox, ADDRESS, 3)
    assert "/signin/link/" in link_again.get_body(("plain",)).get_content()  # type: ignore[union-attr]


async def browser_sign_in(page: Page, portal: Portal, mail: MailCatcher, address: str) -> None:
    """Sign in as a person does: the address, the e-mailed link, the button."""
    seen = len([m for m in mail.received if address in m.recipients])
    # English chosen with the switcher: the voters prefer other languages, which come first.
    await page.context.add_cookies([{"name": LANGUAGE_COOKIE, "value": "en", "url": portal.url}])
    await page.goto(f"{portal.url}/signin")
    await page.get_by_label("E-mail address").fill(address)
    await page.get_by_role("button", name="Send me a sign-in link").click()
    link, _ = await sign_in_mail(mail, address, seen)
    await page.goto(link)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name=re.compile("^Welcome"))).to_be_visible()


async def choose_all(page: Page, portal: Portal, contest: Contest) -> None:
    await page.goto(f"{portal.url}/ballot/{contest.process_id}")
    for code in contest.projects:
        await page.locator(f"#category-{code} input[type=radio]").first.check()
    await page.get_by_role("button", name="Review my ballot").click()
    await expect(page.get_by_text("A vote is final")).to_be_visible()


async def test_a_voter_votes_in_every_category_in_chromium(
    chromium: str,
    portal: Portal,
    engine: Engine,
    mail: MailCatcher,
    contest: Contest,
    participants: list[dict[str, str]],
) -> None:
    voter, late_voter = participants[20]["email"], participants[21]["email"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = await browser.new_context(locale="en-GB")
        page = await context.new_page()
        await browser_sign_in(page, portal, mail, voter)
        await choose_all(page, portal, contest)
        other_tab = await context.new_page()  # the same voter, a second tab, the same ballot
        await choose_all(other_tab, portal, contest)

        await page.get_by_role("button", name="Confirm my vote").click()
        await expect(page.get_by_role("heading", name="Your vote is recorded")).to_be_visible()
        code = await page.locator(".code").text_content()
        assert code and re.fullmatch(r"[A-Z2-9]{5}-[A-Z2-9]{5}", code)
        await page.screenshot(path=str(SCREENSHOTS / "portal-receipt.png"), full_page=True)

        await other_tab.get_by_role("button", name="Confirm my vote").click()
        await expect(
            other_tab.get_by_text("You have already voted in: C1, C4 and C9")
        ).to_be_visible()

        # Another voter reviews a ballot, then voting closes; one second later they confirm.
        late = await (await browser.new_context(locale="en-GB")).new_page()
        await browser_sign_in(late, portal, mail, late_voter)
        await choose_all(late, portal, contest)
        closes = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
        with engine.begin() as conn:
            conn.execute(sa.update(Window).values(closes_at=closes))
        await asyncio.sleep((closes + timedelta(seconds=1) - datetime.now(UTC)).total_seconds())
        await late.get_by_role("button", name="Confirm my vote").click()
        await expect(late.get_by_role("heading", name="This form is closed")).to_be_visible()
        await browser.close()

    receipt = await wait_for_campaign(mail, f"{contest.process_id}:receipt:", voter)
    assert code in receipt.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    with engine.connect() as conn:
        votes = conn.execute(sa.select(Vote.voter_id, Vote.category)).all()  # type: ignore[call-overload]
    assert len(votes) == len(contest.projects)  # one voter, one vote per category, no more


async def wait_for_campaign(mail: MailCatcher, prefix: str, to: str) -> EmailMessage:
    """The first message of a campaign starting ``prefix`` that reached ``to`` (waits)."""

    async def reached() -> EmailMessage:
        found = [m for m in mail.received if m.campaign.startswith(prefix) and to in m.recipients]
        assert found, f"no {prefix} message reached {to}"
        return found[0].message

    return await assert_eventually(reached)


async def test_an_arabic_browser_reads_the_portal_right_to_left_and_switches_language(
    chromium: str, portal: Portal, contest: Contest
) -> None:
    """Chromium asking for Arabic gets the home page in Arabic, laid out right to left (the
    layout's direction, not only the attribute), the voting deadline in Arabic; the
    switcher's link turns the same page French."""
    arabic = i18n.translations("ar", "portal").gettext
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(locale="ar-EG")).new_page()
        await page.goto(f"{portal.url}/")
        await expect(page.locator("html")).to_have_attribute("dir", "rtl")
        await expect(page.locator("html")).to_have_attribute("lang", "ar")
        heading = page.get_by_role("heading", name=arabic("The WSIS Forum's open processes"))
        await expect(heading).to_be_visible()
        await expect(page.get_by_text(arabic("Public online voting is open."))).to_be_visible()
        await expect(page.get_by_role("link", name=arabic("Vote"), exact=True)).to_be_visible()
        assert await heading.evaluate("h => getComputedStyle(h).direction") == "rtl"
        # The heading's words start at its right edge, as a right-to-left reader expects.
        box, words = await heading.evaluate(
            """h => { const r = document.createRange(); r.selectNodeContents(h);
                     const w = r.getBoundingClientRect(), b = h.getBoundingClientRect();
                     return [[b.left, b.right], [w.left, w.right]]; }"""
        )
        assert abs(words[1] - box[1]) < 2 and words[0] > box[0] + 50, (box, words)
        await page.screenshot(path=str(SCREENSHOTS / "portal-home-ar.png"), full_page=True)

        await page.get_by_role("link", name="Français").click()
        await expect(page.locator("html")).to_have_attribute("dir", "ltr")
        french = i18n.translations("fr", "portal").gettext
        await expect(
            page.get_by_role("heading", name=french("The WSIS Forum's open processes"))
        ).to_be_visible()
        assert page.url == f"{portal.url}/"
        await browser.close()
