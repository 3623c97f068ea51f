"""Asking for a sign-in link (or signing up) answers with a redirect to the page that says the
link was sent (post/redirect/get): reloading that page sends no second message, and the page
without a pending request leads back to the form. The real portal under uvicorn, real SMTP."""

from __future__ import annotations

import asyncio

import httpx

from devstack.catcher import MailCatcher
from tests.conftest import Portal
from tests.portal_flow import page_token, sign_in_mail, token_of


async def test_asking_for_a_link_redirects_and_a_reload_sends_nothing(
    portal: Portal, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    address = participants[7]["email"]
    async with httpx.AsyncClient(base_url=portal.url) as browser:
        lone = await browser.get("/signin/sent")  # nothing asked yet: back to the form
        assert lone.status_code == 303 and lone.headers["location"] == "/signin"

        csrf = await page_token(browser, "/signin")
        asked = await browser.post("/signin", data={"email": address, "csrf": csrf})
        assert asked.status_code == 303 and asked.headers["location"] == "/signin/sent"
        await sign_in_mail(mail, address)
        for _ in range(2):  # shown, then reloaded
            page = await browser.get("/signin/sent")
            assert page.status_code == 200 and "If this address can take part" in page.text
        await asyncio.sleep(0.5)
        assert len([m for m in mail.received if address in m.recipients]) == 1

        # The code typed on the page it led to signs in.
        _, code = await sign_in_mail(mail, address)
        done = await browser.post("/signin/code", data={"code": code, "csrf": token_of(page.text)})
        assert done.status_code == 303 and done.headers["location"] == "/me"
