"""A project marked ineligible: its owner is e-mailed at once, in their own language, with the
listed reason the secretariat chose and never the internal note; through the outbox, so a
mail server that is down only delays the message (the deferred-mail loop sends it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from playwright.async_api import async_playwright, expect
from sqlalchemy.engine import Engine

from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.acks import AckOutcome
from intake.windows import Refused as IntakeRefused
from mail.outbox.retry import DeferredMail, Schedule
from models.tables import OutboxMessage, Project
from services import eligibility, staff
from tests.conftest import CHROMIUM_ARGS, Portal
from tests.portal_flow import add_window, signed_in
from tests.staff_flow import console_page

CONTEST = "wsis-2030-prizes"
OFFICER = "officer@itu.int"
INTERNAL = "checked with the Action Line facilitator (internal)"
_j = Project.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]


def nomination_phase(engine: Engine, owners: dict[str, int]) -> dict[str, int]:
    """A contest in its nomination phase with one project per owner; title -> project id."""
    now = datetime.now(UTC)
    rules = {"categories": ["C1"], "description_words": [1, 500]}
    add_window(engine, CONTEST, "project-submissions", rules,
               now - timedelta(days=9), now - timedelta(days=1))  # fmt: skip
    add_window(engine, CONTEST, "nomination", {}, now - timedelta(days=1), now + timedelta(days=1))
    ids = {}
    with engine.begin() as conn:
        for title, owner in owners.items():
            ids[title] = conn.execute(
                _j.insert().values(
                    process_id=CONTEST, category="C1", title=title, title_key=title.lower(),
                    description="A community network for villages.", owner_id=owner,
                    organization="Universidad de Chile", stakeholder_type="Academia",
                    country="CL", submitted_at=now, status="eligible",
                    shortlisted=False, winner=False,
                ).returning(_j.c.id)
            ).scalar_one()  # fmt: skip
    return ids


def text_of(message: EmailMessage) -> str:
    return str(message.get_body(("plain",)).get_content())  # type: ignore[union-attr]


@pytest.mark.browser
async def test_marked_ineligible_in_the_console_the_owner_reads_it_in_spanish_at_once(
    chromium: str, portal: Portal, engine: Engine, mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:  # fmt: skip
    owner = participants[6]  # Gustavo Pérez, who reads Spanish
    assert owner["language"] == "es"
    ids = nomination_phase(engine, {"Red Comunitaria": 7, "Radio Aldea": 7})
    staff.add(engine, OFFICER, "secretariat", actor="cli:test")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = await console_page(browser, portal.url, mail, engine, OFFICER)
        await page.goto(f"{portal.url}/staff/eligibility?contest={CONTEST}")
        row = page.get_by_role("row").filter(has_text="Red Comunitaria")
        await row.get_by_label("Reason").select_option("wrong-category")
        await row.get_by_label("Internal note").fill(INTERNAL)
        await row.get_by_role("button", name="Mark ineligible").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Marked ineligible. Its owner has been e-mailed the reason, in their own language."
        )
        await browser.close()
    told = [
        m for m in mail.received if m.campaign == f"{CONTEST}:ineligible:{ids['Red Comunitaria']}"
    ]
    assert len(told) == 1 and told[0].recipients == [owner["email"]]
    message = told[0].message
    assert message["Content-Language"] == "es"
    assert "examen de admisibilidad" in message["Subject"]
    body = text_of(message)
    assert "El proyecto se presentó en una categoría que no le corresponde." in body
    assert "Red Comunitaria" in body and "Radio Aldea" not in body
    assert "facilitator" not in str(message)
    # Nobody else was written to (the sign-in link went to the officer), and the other
    # project of the same owner is untouched.
    assert {r for m in mail.received for r in m.recipients} == {owner["email"], OFFICER}
    with engine.connect() as conn:
        statuses = {t: s for t, s in conn.execute(sa.select(_j.c.title, _j.c.status))}
    assert statuses == {"Red Comunitaria": "ineligible", "Radio Aldea": "eligible"}
    # The owner's own page says the same, in Spanish: the listed reason, not its English words.
    async with signed_in(portal.url, mail, owner["email"], language=None) as browser_:
        mine = (await browser_.get("/my")).text
    assert "No nominado:" in mine
    assert "El proyecto se presentó en una categoría que no le corresponde." in mine
    assert "wrong category" not in mine and "facilitator" not in mine


async def test_with_the_mail_server_down_the_owners_mail_is_queued_then_sent(
    settings: Settings, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    ids = nomination_phase(engine, {"Village Mesh": 3})  # Chen Wei reads Chinese
    mail.down()
    told = await eligibility.mark(
        engine, settings, CONTEST, ids["Village Mesh"], "earlier-winner", INTERNAL,
        actor="cli:test",
    )  # fmt: skip
    assert told is AckOutcome.QUEUED and mail.count == 0
    with pytest.raises(IntakeRefused, match="already marked ineligible"):
        await eligibility.mark(
            engine, settings, CONTEST, ids["Village Mesh"], "other", "", actor="cli:test"
        )
    mail.up()
    fast = Schedule(first=timedelta(0), leave_to_intake=timedelta(0))
    result = await DeferredMail(settings, engine, fast).run_pass()
    assert result.sent == 1
    [message] = [m.message for m in mail.received]
    assert message["To"] and participants[2]["email"] in message["To"]
    assert message["Content-Language"] == "zh"
    assert "该项目已在往年获得信息社会世界峰会奖。" in text_of(message)
    assert "facilitator" not in str(message)
    with engine.connect() as conn:
        states = conn.execute(sa.select(_outbox.c.state)).scalars().all()
    assert states == ["sent"]
