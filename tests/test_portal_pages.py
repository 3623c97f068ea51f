"""Every page of the portal in the system Chromium, as people see it: English and Arabic, a
phone held upright (390 px) and a desktop (1280 px), signed out and signed in. Each page is
checked with axe-core (the axe-playwright-python wheel ships axe.min.js: nothing is
downloaded) for WCAG 2.1 A/AA: no serious or critical violation. The ballot's radios are
measured beside their labels, and the ballot is completed with the keyboard alone. With
$WSIS_SHOTS set (``make screenshots``) each page is also screenshotted there, to be looked
at (about a hundred full pages: not on every run).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from models.tables import Vote
from portal.pages import LANGUAGE_COOKIE
from tests.accessibility import serious_violations
from tests.conftest import CHROMIUM_ARGS, Portal
from tests.portal_flow import Contest, add_window, signed_in

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ["WSIS_SHOTS"]) / "pages" if os.environ.get("WSIS_SHOTS") else None
WIDTHS = (390, 1280)
OCP = "wsis-2030-ocp"
SUBMISSIONS = "wsis-2031-prizes"
VOTER = "participant20@example.org"  # owns no project in the contest fixture
OPEN_DATA_AR = "البيانات المفتوحة"

PUBLIC = ["/", "/past", "/signin", "/signup", "/privacy", "/accessibility", "/receipt",
          "/results/wsis-2030-prizes", "/signin/link/not-a-token", "/no-such-page",
          "/signed-out", "/account-deleted"]  # fmt: skip
SIGNED_IN = ["/", "/me", "/preferences", "/my", f"/ocp/{OCP}", f"/projects/{SUBMISSIONS}/new",
             "/ballot/wsis-2030-prizes", "/my/profile", "/my/delete"]  # fmt: skip


@pytest.fixture
def stage(engine: Engine, contest: Contest) -> Contest:
    """The contest in voting, an open OCP and another contest taking projects."""
    if SHOTS:
        SHOTS.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    # C4 is a default category (its name in the catalogs), X-data the contest's own.
    rules = {
        "categories": ["C4", "X-data"], "description_words": [5, 500],
        "category_names": {"C4": "Capacity building", "X-data": "Open data"},
        "category_versions": {"X-data": {"ar": OPEN_DATA_AR}},
    }  # fmt: skip
    add_window(engine, OCP, "ocp-submissions", {}, now - timedelta(days=1), now + timedelta(days=9))
    add_window(
        engine, SUBMISSIONS, "project-submissions", rules, now - timedelta(days=1),
        now + timedelta(days=9),
    )  # fmt: skip
    return contest


async def session_cookies(portal: Portal, mail: MailCatcher) -> list[dict[str, Any]]:
    """The cookies of a participant signed in through the e-mailed link."""
    async with signed_in(portal.url, mail, VOTER) as client:
        return [
            {"name": c.name, "value": c.value or "", "url": portal.url}
            for c in client.cookies.jar
            if c.name != LANGUAGE_COOKIE
        ]


async def open_context(
    browser: Browser, portal: Portal, lang: str, width: int, cookies: list[dict[str, Any]]
) -> BrowserContext:
    context = await browser.new_context(viewport={"width": width, "height": 900})
    await context.add_cookies([{"name": LANGUAGE_COOKIE, "value": lang, "url": portal.url}])
    if cookies:
        await context.add_cookies(cookies)  # type: ignore[arg-type]
    return context


async def look(page: Page, name: str, lang: str, width: int) -> list[str]:
    """Return the page's serious or critical axe violations (and screenshot it if asked)."""
    if SHOTS:
        await page.screenshot(path=str(SHOTS / f"{name}-{lang}-{width}.png"), full_page=True)
    return [f"{name} {lang} {width}: {problem}" for problem in await serious_violations(page)]


def shot_name(path: str, signed: bool) -> str:
    stem = path.strip("/").replace("/", "_") or "home"
    return f"{'in' if signed else 'out'}-{stem}"


@pytest.fixture
async def browser(chromium: str) -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def test_every_page_reads_well_and_passes_axe_in_english_and_arabic(
    browser: Browser, portal: Portal, mail: MailCatcher, stage: Contest
) -> None:
    cookies = await session_cookies(portal, mail)
    problems: list[str] = []
    for lang in ("en", "ar"):
        for width in WIDTHS:
            for signed, paths in ((False, PUBLIC), (True, SIGNED_IN)):
                context = await open_context(
                    browser, portal, lang, width, cookies if signed else []
                )
                page = await context.new_page()
                for path in paths:
                    await page.goto(portal.url + path)
                    assert await page.get_attribute("html", "lang") == lang, path
                    problems += await look(page, shot_name(path, signed), lang, width)
                    if path.startswith("/projects/"):  # each category in the reader's words
                        own = OPEN_DATA_AR if lang == "ar" else "Open data"
                        await expect(page.locator("#category")).to_contain_text(own)
                        await expect(page.locator("#category")).to_contain_text(
                            "بناء القدرات" if lang == "ar" else "Capacity building"
                        )
                if signed:  # the ballot's review and a form with its error summary
                    await page.goto(f"{portal.url}/ballot/{stage.process_id}")
                    await page.locator("fieldset.category input[type=radio]").first.check()
                    await page.locator("form[action$='/review'] button[type=submit]").click()
                    problems += await look(page, "in-ballot_review", lang, width)
                else:
                    await page.goto(f"{portal.url}/signup")
                    await page.locator("#email").fill("not an address")
                    await page.locator("#name").fill("x")
                    await page.evaluate(
                        "document.querySelector('form[action=\"/signup\"]').noValidate = true"
                    )
                    await page.locator("form[action='/signup'] button[type=submit]").click()
                    await expect(page.locator(".error-summary a[href='#email']")).to_be_visible()
                    problems += await look(page, "out-signup_problem", lang, width)
                await context.close()
    assert not problems, "\n".join(problems)


async def test_the_ballots_radios_sit_beside_their_labels(
    browser: Browser, portal: Portal, mail: MailCatcher, stage: Contest
) -> None:
    cookies = await session_cookies(portal, mail)
    for lang in ("en", "ar"):
        for width in WIDTHS:
            context = await open_context(browser, portal, lang, width, cookies)
            page = await context.new_page()
            await page.goto(f"{portal.url}/ballot/{stage.process_id}")
            radios = page.locator("fieldset.category input[type=radio]")
            assert await radios.count() == 9
            for i in range(await radios.count()):
                radio = radios.nth(i)
                box = await radio.bounding_box()
                label = await page.locator(
                    f"label[for='{await radio.get_attribute('id')}']"
                ).bounding_box()
                assert box and label
                assert 16 <= box["width"] <= 40 and 16 <= box["height"] <= 40, (lang, width, box)
                # Beside the label, on the reading side: the gap between them is small, and
                # the label starts on the radio's line.
                gap = (
                    label["x"] - (box["x"] + box["width"])
                    if lang == "en"
                    else box["x"] - (label["x"] + label["width"])
                )
                assert 0 <= gap <= 24, (lang, width, box, label)
                assert abs(label["y"] - box["y"]) <= 12, (lang, width, box, label)
            await context.close()


async def test_a_ballot_is_completed_with_the_keyboard_alone(
    browser: Browser, portal: Portal, mail: MailCatcher, stage: Contest, engine: Engine
) -> None:
    cookies = await session_cookies(portal, mail)
    context = await open_context(browser, portal, "en", 1280, cookies)
    page = await context.new_page()
    await page.goto(f"{portal.url}/ballot/{stage.process_id}")
    # Tab into each category's radio group, then choose with the arrow keys: a radio group
    # is one tab stop; an arrow moves to (and checks) the next project, Space keeps it.
    chosen: list[int] = []
    for category in stage.projects:
        for _ in range(60):
            await page.keyboard.press("Tab")
            focused = await page.evaluate("document.activeElement.name || ''")
            if focused == f"choice-{category}":
                break
        else:
            raise AssertionError(f"the keyboard never reached {category}")
        await page.keyboard.press("ArrowDown")
        await page.keyboard.press("Space")
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "the focused radio shows no focus"
        value = await page.evaluate(
            "document.activeElement.checked && document.activeElement.value"
        )
        assert value, "the arrow and Space did not choose a project"
        chosen.append(int(value))
    # On to the review button, then the confirm button, by keyboard.
    await focus_and_press(page, "Review my ballot")
    await expect(page.get_by_role("heading", name="Review your ballot")).to_be_visible()
    await focus_and_press(page, "Confirm my vote")
    await expect(page.get_by_role("heading", name="Your vote is recorded")).to_be_visible()
    with engine.connect() as conn:
        votes = conn.execute(Vote.__table__.select()).all()  # type: ignore[attr-defined]
    assert sorted(v.project_id for v in votes) == sorted(chosen)
    assert all(c in ids for c, ids in zip(chosen, stage.projects.values(), strict=True))
    await context.close()


async def focus_and_press(page: Page, button: str) -> None:
    for _ in range(80):
        await page.keyboard.press("Tab")
        text = await page.evaluate("document.activeElement.textContent.trim()")
        if text == button:
            await page.keyboard.press("Enter")
            return
    raise AssertionError(f"the keyboard never reached {button!r}")
