"""The demo's community: synthetic participants who use the portal as real people would.

Each persona is a browser of its own (cookies) that signs in by the e-mailed link (read at
the SMTP catcher the moment it arrives), sends an official submission through the form,
submits a project, and votes through the ballot: the ballot page, the review, the confirm.
A person can do the same beside them in a real browser.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

import httpx

from devstack.catcher import MailCatcher, Received

CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
LINK = re.compile(r"/signin/link/[\w-]+")
RADIO = re.compile(r'name="choice-([^"]+)" value="(\d+)"')
DESCRIPTION = (
    "Our project brings affordable connectivity and digital skills training to rural "
    "communities, with local content in local languages. "
) * 10  # about 180 words: within the WSIS Prizes' 150 to 200


@dataclass(frozen=True)
class Persona:
    name: str
    email: str
    organization: str
    country: str
    stakeholder_type: str


class Links:
    """Sign-in links as they reach the catcher, handed to whoever waits for them."""

    def __init__(self, catcher: MailCatcher) -> None:
        self.loop = asyncio.get_running_loop()
        self.waiting: dict[str, asyncio.Future[str]] = {}
        self._store = catcher.store
        catcher.store = self._arrived  # type: ignore[method-assign]

    def expect(self, address: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = self.loop.create_future()
        self.waiting[address] = future
        return future

    def _arrived(self, item: Received) -> None:  # the catcher's thread
        self._store(item)
        for to in item.recipients:
            future = self.waiting.get(to)
            if future is None:
                continue
            body = item.message.get_body(("plain",))
            found = LINK.search(str(body.get_content()) if body else "")
            if found:
                del self.waiting[to]
                self.loop.call_soon_threadsafe(future.set_result, found.group(0))


class Community:
    """The personas and their browsers on the portal at ``portal_url``."""

    def __init__(self, portal_url: str, catcher: MailCatcher, people: list[Persona]) -> None:
        self.url = portal_url
        self.links = Links(catcher)
        self.people = people
        self.browsers: dict[str, httpx.AsyncClient] = {}

    async def close(self) -> None:
        for browser in self.browsers.values():
            await browser.aclose()

    async def browser(self, person: Persona) -> httpx.AsyncClient:
        """``person``'s browser, signed in (by the e-mailed link) on first use."""
        if person.email in self.browsers:
            return self.browsers[person.email]
        browser = httpx.AsyncClient(base_url=self.url, timeout=30)
        page = await browser.get("/signin")
        arrival = self.links.expect(person.email)
        await browser.post("/signin", data={"email": person.email, "csrf": _csrf(page.text)})
        link = await asyncio.wait_for(arrival, 30)
        confirm = await browser.get(link)
        await browser.post(link, data={"csrf": _csrf(confirm.text)})
        self.browsers[person.email] = browser
        return browser

    async def submit_ocp(self, person: Persona, process_id: str) -> int:
        browser = await self.browser(person)
        page = await browser.get(f"/ocp/{process_id}")
        sent = await browser.post(
            f"/ocp/{process_id}",
            data={
                "full_name": person.name, "organization": person.organization,
                "country": person.country, "stakeholder_type": person.stakeholder_type,
                "proposal": "More remote participation, and a track for young people.",
                "csrf": _csrf(page.text),
            },
        )  # fmt: skip
        return sent.status_code

    async def submit_project(
        self, person: Persona, process_id: str, category: str, title: str
    ) -> int:
        browser = await self.browser(person)
        page = await browser.get(f"/projects/{process_id}/new")
        sent = await browser.post(
            f"/projects/{process_id}/new",
            data={
                "category": category, "title": title, "description": DESCRIPTION,
                "organization": person.organization, "stakeholder_type": person.stakeholder_type,
                "country": person.country, "csrf": _csrf(page.text),
            },
        )  # fmt: skip
        return sent.status_code

    async def vote(self, person: Persona, process_id: str, pick: int) -> int:
        """A full ballot: the ``pick``-th project shown in each category still open to them."""
        browser = await self.browser(person)
        page = await browser.get(f"/ballot/{process_id}")
        options: dict[str, list[str]] = {}
        for category, project in RADIO.findall(page.text):
            options.setdefault(category, []).append(project)
        if not options:
            return page.status_code
        choices = {f"choice-{c}": ids[pick % len(ids)] for c, ids in options.items()}
        review = await browser.post(
            f"/ballot/{process_id}/review", data={**choices, "csrf": _csrf(page.text)}
        )
        done = await browser.post(
            f"/ballot/{process_id}/confirm", data={**choices, "csrf": _csrf(review.text)}
        )
        return done.status_code


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    if not found:
        raise RuntimeError("the page has no form token")
    return found.group(1)
