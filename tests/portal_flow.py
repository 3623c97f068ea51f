"""How tests sign people in to the portal, as a person does: through pages and e-mails."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from models.plan import BallotRule
from models.tables import Project, Window
from portal.pages import LANGUAGE_COOKIE
from tests.helpers import assert_eventually

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

    async def arrived() -> str:
        found = [m for m in mail.received if address in m.recipients]
        assert len(found) > seen, f"no sign-in message reached {address}"
        text: str = found[-1].message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        return text

    text = await assert_eventually(arrived)
    link = re.search(r"https?://\S+/signin/link/[\w-]+", text)
    code = re.search(r"\b[A-Z2-9]{4}-[A-Z2-9]{4}\b", text)
    assert link and code, text
    return link.group(0), code.group(0)


async def ask_for_link(client: httpx.AsyncClient, address: str) -> httpx.Response:
    csrf = await page_token(client, "/signin")
    # As a browser does: the answer is a redirect (post/redirect/get) to the page shown.
    return await client.post(
        "/signin", data={"email": address, "csrf": csrf}, follow_redirects=True
    )


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
            "consent": "yes",
            "csrf": csrf,
        },
        follow_redirects=True,  # the redirect after the POST, as a browser follows it
    )


@asynccontextmanager
async def signed_in(
    portal_url: str, mail: MailCatcher, address: str, language: str | None = "en"
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as ``address`` through the e-mailed link. It reads ``language``
    (the switcher's cookie; English by default, as the tests read the pages: the
    participants prefer all seven languages); None: the participant's own."""
    cookies = {LANGUAGE_COOKIE: language} if language else {}
    async with httpx.AsyncClient(
        base_url=portal_url, follow_redirects=False, cookies=cookies
    ) as browser:
        seen = len([m for m in mail.received if address in m.recipients])
        await ask_for_link(browser, address)
        link, _ = await sign_in_mail(mail, address, seen)
        page = await browser.get(link)
        done = await browser.post(link, data={"csrf": token_of(page.text)})
        assert done.status_code == 303, done.text
        yield browser


CATEGORIES = {"C1": "The role of public governance authorities and all stakeholders",
              "C4": "Capacity building", "C9": "Media"}  # fmt: skip
CONTEST = "wsis-2030-prizes"


@dataclass
class Contest:
    process_id: str
    projects: dict[str, list[int]]  # category -> nominated project ids


def add_window(engine: Engine, process_id: str, kind: str, rules: Mapping[str, object],
               opens: datetime, closes: datetime) -> None:  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Window).values(
                process_id=process_id, kind=kind, title="WSIS Prizes 2030", opens_at=opens,
                closes_at=closes, timezone="Europe/Zurich", state="open",
                rules_json=json.dumps(rules), revision=0,
            )
        )  # fmt: skip


@pytest.fixture
def contest(engine: Engine, participants: list[dict[str, str]]) -> Contest:
    """An all-categories contest in public online voting: three nominated projects in each
    of three categories, owned by the first participants."""
    now = datetime.now(UTC)
    rules = {"categories": list(CATEGORIES), "category_names": CATEGORIES,
             "ballot_rule": BallotRule.ALL_CATEGORIES.value}  # fmt: skip
    add_window(engine, CONTEST, "voting", rules, now - timedelta(days=1), now + timedelta(days=1))
    projects: dict[str, list[int]] = {}
    with engine.begin() as conn:
        for i, code in enumerate(CATEGORIES):
            for j in range(3):
                values = {
                    "process_id": CONTEST, "category": code, "title": f"Project {code}-{j}",
                    "title_key": f"project {code}-{j}", "description": "A community network.",
                    "owner_id": i * 3 + j + 1, "organization": "Org",
                    "stakeholder_type": "Academia", "country": "Chile", "submitted_at": now,
                    "status": "nominated",
                }  # fmt: skip
                table = Project.__table__  # type: ignore[attr-defined]
                row = conn.execute(
                    table.insert().values(**values).returning(table.c.id)
                ).scalar_one()
                projects.setdefault(code, []).append(row)
    return Contest(CONTEST, projects)


def full_ballot(contest: Contest, pick: int = 0) -> dict[str, str]:
    return {f"choice-{c}": str(ids[pick]) for c, ids in contest.projects.items()}
