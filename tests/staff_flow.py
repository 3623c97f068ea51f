"""How tests sign a staff member in to the console, as a person does: the staff sign-in page,
the e-mailed link, its button, then the authenticator's code (enrolling at the first time);
over HTTP (``staff_sign_in``) or in Chromium (``console_page``)."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
from playwright.async_api import Browser, Page, expect
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from services import staff
from tests.portal_flow import page_token, token_of


async def staff_link(mail: MailCatcher, address: str, seen: int = 0) -> str:
    """The newest staff sign-in link sent to ``address`` (waits for it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [m for m in mail.received if address in m.recipients]
        if len(found) > seen:
            text = found[-1].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            link = re.search(r"https?://\S+/staff/signin/link/[\w-]+", text)
            assert link, text
            return link.group(0)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no staff sign-in message reached {address}")


# The portal_secret of the test portals (tests/conftest.py's ``portal`` and the consoles'
# fixtures): the staff TOTP secrets are sealed under a key derived from it.
TEST_KEY = b"a test key, not a secret"


def code_for(engine: Engine, staff_id: int, step: int = 0, key: bytes = TEST_KEY) -> str:
    """What the authenticator app shows now (``step`` periods later)."""
    secret = staff.enrolment_secret(engine, staff_id, key)
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30 * step))


async def staff_sign_in(
    client: httpx.AsyncClient, mail: MailCatcher, engine: Engine, address: str, step: int = 0
) -> httpx.Response:
    """Sign ``address`` (a staff account) in; returns the console's first page."""
    seen = len([m for m in mail.received if address in m.recipients])
    csrf = await page_token(client, "/staff/signin")
    sent = await client.post("/staff/signin", data={"email": address, "csrf": csrf})
    assert sent.status_code == 200, sent.text
    link = await staff_link(mail, address, seen)
    path = link.split("://", 1)[1].split("/", 1)[1]
    button = await client.get(f"/{path}")
    signed = await client.post(f"/{path}", data={"csrf": token_of(button.text)})
    assert signed.status_code == 303 and signed.headers["location"] == "/staff/second-factor"
    factor = await client.get("/staff/second-factor")
    assert factor.status_code == 200, factor.text
    member = staff.find(engine, address=address)
    assert member is not None
    done = await client.post(
        "/staff/second-factor",
        data={"code": code_for(engine, member.id, step), "csrf": token_of(factor.text)},
    )
    assert done.status_code == 303 and done.headers["location"] == "/staff/", done.text
    return await client.get("/staff/")


async def console_page(
    browser: Browser, url: str, mail: MailCatcher, engine: Engine, address: str
) -> Page:
    """A fresh Chromium page signed in to the console at ``url`` as ``address`` (a staff
    account): the address, the e-mailed link and its button, then the authenticator's code."""
    page = await browser.new_page(locale="en-GB", viewport={"width": 1280, "height": 900})
    await page.goto(f"{url}/staff/")
    await page.get_by_label("E-mail address").fill(address)
    await page.get_by_role("button", name="Send me a link").click()
    await expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
    await page.goto(await staff_link(mail, address))
    await page.get_by_role("button", name="Continue").click()
    member = staff.find(engine, address=address)
    assert member is not None
    await page.get_by_label("Code").fill(code_for(engine, member.id))
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="At a glance")).to_be_visible()
    return page
