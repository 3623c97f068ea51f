"""How tests sign people in to the portal, as a person does: through pages and e-mails."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from devstack.catcher import MailCatcher

NEW = "new.member@example.org"


def token_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', html)
    assert found, "the page has no form token"
    return found.group(1)


async def page_token(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return token_of(response.text)


async def sign_in_mail(mail: MailCatcher, address: str, seen: int = 0) -> tuple[str, str]:
    """The link and the code of the newest sign-in message to ``address`` (waits for it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [m for m in mail.received if address in m.recipients]
        if len(found) > seen:
            text = found[-1].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            link = re.search(r"https?://\S+/signin/link/[\w-]+", text)
            code = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", text)
            assert link and code, text
            return link.group(0), code.group(0)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no sign-in message reached {address}")


async def ask_for_link(client: httpx.AsyncClient, address: str) -> httpx.Response:
    csrf = await page_token(client, "/signin")
    return await client.post("/signin", data={"email": address, "csrf": csrf})


async def sign_up(client: httpx.AsyncClient, address: str = NEW) -> httpx.Response:
    csrf = await page_token(client, "/signup")
    return await client.post(
        "/signup",
        data={
            "name": "Nadia Rahman",
            "organization": "Ministry of ICT",
            "country": "Bangladesh",
            "stakeholder_type": "Government",
            "language": "en",
            "email": address,
            "csrf": csrf,
        },
    )


@asynccontextmanager
async def signed_in(
    portal_url: str, mail: MailCatcher, address: str
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as ``address`` through the e-mailed link."""
    async with httpx.AsyncClient(base_url=portal_url, follow_redirects=False) as browser:
        seen = len([m for m in mail.received if address in m.recipients])
        await ask_for_link(browser, address)
        link, _ = await sign_in_mail(mail, address, seen)
        page = await browser.get(link)
        done = await browser.post(link, data={"csrf": token_of(page.text)})
        assert done.status_code == 303, done.text
        yield browser
