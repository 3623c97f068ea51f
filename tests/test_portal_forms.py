"""Forms that say what happened and can be reloaded: post, redirect, get (a reload shows the
page again and sends nothing); signing out says so; an unsubscribe link opened when already
unsubscribed says so and offers to take the announcements again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from intake.tokens import unsubscribe_token
from models.tables import OcpSubmission, Participant
from tests.conftest import Portal
from tests.portal_flow import add_window, signed_in, token_of

_people = Participant.__table__  # type: ignore[attr-defined]
_subs = OcpSubmission.__table__  # type: ignore[attr-defined]
OCP = "wsis-2030-ocp"


async def test_a_submission_redirects_and_a_reload_sends_nothing_again(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    now = datetime.now(UTC)
    add_window(engine, OCP, "ocp-submissions", {}, now - timedelta(days=1), now + timedelta(days=9))
    async with signed_in(portal.url, mail, participants[3]["email"]) as browser:
        page = await browser.get(f"/ocp/{OCP}")
        form = {"full_name": "Dana Ivanova", "organization": "Open Net", "country": "Bulgaria",
                "stakeholder_type": "Civil Society", "proposal": "Hybrid sessions.",
                "csrf": token_of(page.text)}  # fmt: skip
        sent = await browser.post(f"/ocp/{OCP}", data=form)
        assert sent.status_code == 303
        for _ in range(2):  # the page, then a reload of it
            shown = await browser.get(sent.headers["location"])
            assert "Your official submission is received" in shown.text
        out = await browser.post("/signout", data={"csrf": token_of(shown.text)})
        assert out.status_code == 303 and out.headers["location"] == "/signed-out"
        assert "You are signed out" in (await browser.get("/signed-out")).text
        # Signed out, the page is shown to nobody: sign in first.
        assert (await browser.get(sent.headers["location"])).status_code == 303  # to /signin
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_subs)).scalar_one() == 1


async def test_an_unsubscribe_link_opened_again_says_so_and_offers_to_resubscribe(
    portal: Portal, engine: Engine, participants: list[dict[str, str]]
) -> None:
    address = participants[4]["email"]
    with engine.connect() as conn:
        pid = conn.execute(sa.select(_people.c.id).where(_people.c.email == address)).scalar_one()
    token = unsubscribe_token(portal.settings.portal_key(), pid, 0)  # as its mail carries it

    def subscribed() -> bool:
        with engine.connect() as conn:
            return not conn.execute(
                sa.select(_people.c.unsubscribed).where(_people.c.email == address)
            ).scalar_one()

    async with httpx.AsyncClient(base_url=portal.url) as browser:
        first = await browser.get(f"/unsubscribe/{token}")
        assert "Stop the WSIS announcements?" in first.text
        one_click = await browser.post(
            f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}
        )
        assert one_click.status_code == 200 and not subscribed()
        again = await browser.get(f"/unsubscribe/{token}")
        assert "You are already unsubscribed" in again.text
        back = await browser.post(
            f"/unsubscribe/{token}/again", data={"csrf": token_of(again.text)}
        )
        assert back.status_code == 303 and subscribed()
        shown = await browser.get(back.headers["location"])
        assert "You will receive the WSIS announcements again." in shown.text
