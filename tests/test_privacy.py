"""The participant's rights, end to end through the real portal: consent recorded at
sign-up (and required), the profile edited, everything kept downloaded as JSON, the account
deleted: afterwards nothing in the database, the reports or the logs names the person, their
votes stay counted and the tally is unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from models.tables import Participant
from reports.ocp import ocp_analysis
from reports.prizes import results
from reports.votes import vote_counts
from tests.conftest import Portal
from tests.portal_flow import (
    NEW,
    Contest,
    add_window,
    full_ballot,
    page_token,
    sign_up,
    signed_in,
    token_of,
)

_people = Participant.__table__  # type: ignore[attr-defined]
OCP = "wsis-2030-ocp"
VOTER = "participant20@example.org"
NAME = "Amina Diallo 20"
PHONE = "+41 22 730 5111"


async def test_sign_up_records_consent_and_refuses_without_it(
    portal: Portal, mail: MailCatcher, engine: Engine
) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=portal.url) as browser:
        csrf = await page_token(browser, "/signup")
        refused = await browser.post(
            "/signup",
            data={"name": "Nadia Rahman", "email": "nadia@example.org", "csrf": csrf},
        )
        assert refused.status_code == 400
        assert 'href="#consent"' in refused.text  # the error summary links to the box
        assert (await sign_up(browser)).status_code == 200
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_people.c.email, _people.c.consented_at)).all()
    consented = {email: at for email, at in rows}
    assert "nadia@example.org" not in consented
    assert consented[NEW] is not None


async def test_a_deleted_account_names_nobody_and_its_votes_still_count(
    portal: Portal,
    mail: MailCatcher,
    engine: Engine,
    contest: Contest,
    capfd: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(UTC)
    add_window(engine, OCP, "ocp-submissions", {}, now - timedelta(days=1), now + timedelta(days=9))
    async with signed_in(portal.url, mail, VOTER) as browser:
        page = await browser.get("/ocp/" + OCP)
        sent = await browser.post(
            f"/ocp/{OCP}",
            data={
                "full_name": NAME, "organization": "Ministry of ICT", "country": "Senegal",
                "telephone": PHONE, "stakeholder_type": "Government",
                "proposal": "More remote participation.", "csrf": token_of(page.text),
            },
        )  # fmt: skip
        assert sent.status_code == 303, sent.text
        page = await browser.get(f"/ballot/{contest.process_id}")
        choices = full_ballot(contest)
        review = await browser.post(
            f"/ballot/{contest.process_id}/review", data={**choices, "csrf": token_of(page.text)}
        )
        cast = await browser.post(
            f"/ballot/{contest.process_id}/confirm",
            data={**choices, "csrf": token_of(review.text)},
        )
        assert cast.status_code == 303, cast.text

        # The profile, edited; then everything kept, downloaded.
        page = await browser.get("/my/profile")
        saved = await browser.post(
            "/my/profile",
            data={"name": NAME, "organization": "Ministère des TIC", "country": "Sénégal",
                  "stakeholder_type": "Government", "csrf": token_of(page.text)},
        )  # fmt: skip
        assert saved.status_code == 303 and saved.headers["location"] == "/my/profile?saved=1"
        download = await browser.get("/my/data.json")
        data = json.loads(download.text)
        assert data["participant"]["name"] == NAME
        assert data["participant"]["organization"] == "Ministère des TIC"
        assert data["official_submissions"][0]["telephone"] == PHONE
        assert len(data["votes"]) == 3 and data["ballots"][0]["code"]
        assert "unsubscribe_legacy" not in data["participant"]

        counts_before = vote_counts(contest.process_id, engine)
        page = await browser.get("/my/delete")
        gone = await browser.post("/my/delete", data={"csrf": token_of(page.text)})
        assert gone.status_code == 303 and gone.headers["location"] == "/account-deleted"
        assert (await browser.get("/me")).status_code == 303  # signed out: to /signin

    # Nothing in the database names them: the whole SQLite file, dumped as SQL.
    raw = engine.raw_connection()
    try:
        dump = "\n".join(raw.iterdump())
    finally:
        raw.close()
    for trace in (NAME, VOTER, PHONE, "Ministère des TIC"):
        assert trace not in dump, trace
    # Their votes still count: the counts and the tally's inputs are unchanged.
    assert vote_counts(contest.process_id, engine) == counts_before
    assert counts_before.total == 3
    # No report names them, and no log line did at any point.
    reports = repr(ocp_analysis(OCP, engine)) + repr(results(contest.process_id, engine))
    logged = "".join(capfd.readouterr())
    for trace in (NAME, VOTER, PHONE):
        assert trace not in reports and trace not in logged, trace


async def test_networks_and_agent_hashes_go_once_the_votes_are_tallied(
    portal: Portal, mail: MailCatcher, engine: Engine, contest: Contest
) -> None:
    from activities.prizes import PrizeActivities
    from models.plan import BallotRule
    from models.tables import Vote
    from models.wire import TallyRequest

    _v = Vote.__table__  # type: ignore[attr-defined]
    async with signed_in(portal.url, mail, VOTER) as browser:
        page = await browser.get(f"/ballot/{contest.process_id}")
        choices = full_ballot(contest)
        review = await browser.post(
            f"/ballot/{contest.process_id}/review", data={**choices, "csrf": token_of(page.text)}
        )
        await browser.post(
            f"/ballot/{contest.process_id}/confirm",
            data={**choices, "csrf": token_of(review.text)},
        )

    def evidence() -> set[tuple[str, str]]:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(_v.c.network, _v.c.agent_hash)).all()
        return {(network, agent) for network, agent in rows}

    kept = evidence()
    assert all(network and agent for network, agent in kept) and len(kept) == 1
    request = TallyRequest(
        process_id=contest.process_id, categories=list(contest.projects), shortlist_size=2,
        ballot_rule=BallotRule.ALL_CATEGORIES,
    )  # fmt: skip
    PrizeActivities(engine).tally(request)
    assert evidence() == {("", "")}
    assert vote_counts(contest.process_id, engine).total == 3  # the votes themselves stay
