"""An official submission and a project changed or withdrawn by their sender until the
deadline, through the portal, with their history kept; refused after the deadline and to
anyone else."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from models.tables import OcpSubmission, Project, SubmissionRevision, Window
from reports.ocp import ocp_analysis
from tests.conftest import Portal
from tests.portal_flow import add_window, signed_in, token_of

_s = OcpSubmission.__table__  # type: ignore[attr-defined]
_p = Project.__table__  # type: ignore[attr-defined]
_r = SubmissionRevision.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]
OCP = "wsis-2030-ocp"
PRIZES = "wsis-2031-prizes"
OCP_FORM = {"full_name": "Chen Wei", "organization": "Tsinghua University", "country": "CN",
            "stakeholder_type": "Academia", "proposal": "First thoughts."}  # fmt: skip


async def test_an_official_submission_is_changed_then_withdrawn_until_the_deadline(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    now = datetime.now(UTC)
    add_window(engine, OCP, "ocp-submissions", {}, now - timedelta(days=1), now + timedelta(days=9))
    async with signed_in(portal.url, mail, participants[2]["email"]) as browser:
        page = await browser.get(f"/ocp/{OCP}")
        sent = await browser.post(f"/ocp/{OCP}", data={**OCP_FORM, "csrf": token_of(page.text)})
        number = int(sent.headers["location"].rsplit("/", 1)[1])
        again = await browser.get(f"/ocp/{OCP}")
        assert f"You have already sent official submission number {number}" in again.text
        assert f'href="/my/submission/{number}/edit"' in (await browser.get("/my")).text

        form = await browser.get(f"/my/submission/{number}/edit")
        assert "First thoughts." in form.text
        # The same checks as a new submission: a blank name is marked, the text kept.
        blank = await browser.post(
            f"/my/submission/{number}/edit",
            data={**OCP_FORM, "full_name": "", "proposal": "Kept.", "csrf": token_of(form.text)},
        )
        assert blank.status_code == 400 and 'href="#full_name"' in blank.text
        assert "Kept." in blank.text and f'action="/my/submission/{number}/edit"' in blank.text
        edited = await browser.post(
            f"/my/submission/{number}/edit",
            data={**OCP_FORM, "proposal": "Second thoughts.", "csrf": token_of(form.text)},
        )
        assert edited.status_code == 303
        mine = await browser.get("/my")
        gone = await browser.post(
            f"/my/submission/{number}/withdraw", data={"csrf": token_of(mine.text)}
        )
        assert gone.status_code == 303
        assert "Withdrawn" in (await browser.get("/my")).text
        # Withdrawn, it cannot be changed any more.
        late = await browser.post(
            f"/my/submission/{number}/edit", data={**OCP_FORM, "csrf": token_of(mine.text)}
        )
        assert late.status_code == 404

    with engine.connect() as conn:
        row = conn.execute(sa.select(_s).where(_s.c.id == number)).one()
        history = conn.execute(sa.select(_r).order_by(_r.c.id)).all()
    assert row.proposal == "Second thoughts." and row.withdrawn_at is not None
    assert [(h.kind, h.item_id, h.action) for h in history] == [
        ("submission", number, "edited"), ("submission", number, "withdrawn"),
    ]  # fmt: skip
    assert json.loads(history[0].previous_json)["proposal"] == "First thoughts."
    assert ocp_analysis(OCP, engine).total == 0  # a withdrawn submission counts nowhere


async def test_a_project_is_changed_until_the_deadline_and_by_its_owner_only(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    now = datetime.now(UTC)
    rules = {"categories": ["C1", "C4"], "description_words": [3, 50]}
    add_window(
        engine, PRIZES, "project-submissions", rules, now - timedelta(days=1),
        now + timedelta(days=9),
    )  # fmt: skip
    project = {"category": "C4", "title": "Mesh for Villages", "organization": "Open Net",
               "stakeholder_type": "Civil Society", "country": "Bulgaria",
               "description": "A community network in the valley."}  # fmt: skip
    async with signed_in(portal.url, mail, participants[3]["email"]) as owner:
        page = await owner.get(f"/projects/{PRIZES}/new")
        sent = await owner.post(
            f"/projects/{PRIZES}/new", data={**project, "csrf": token_of(page.text)}
        )
        number = int(sent.headers["location"].rsplit("/", 1)[1])
        form = await owner.get(f"/my/project/{number}/edit")
        too_short = await owner.post(
            f"/my/project/{number}/edit",
            data={**project, "description": "Two words", "csrf": token_of(form.text)},
        )
        assert too_short.status_code == 400 and 'href="#description"' in too_short.text
        untitled = await owner.post(
            f"/my/project/{number}/edit",
            data={**project, "title": "", "csrf": token_of(form.text)},
        )
        assert untitled.status_code == 400 and 'href="#title"' in untitled.text
        assert f'action="/my/project/{number}/edit"' in untitled.text
        edited = await owner.post(
            f"/my/project/{number}/edit",
            data={**project, "title": "Mesh for All Villages", "csrf": token_of(form.text)},
        )
        assert edited.status_code == 303
    async with signed_in(portal.url, mail, participants[4]["email"]) as stranger:
        page = await stranger.get("/my")
        assert (await stranger.get(f"/my/project/{number}/edit")).status_code == 404
        refused = await stranger.post(
            f"/my/project/{number}/withdraw", data={"csrf": token_of(page.text)}
        )
        assert refused.status_code == 404
    with engine.begin() as conn:  # the deadline passes
        conn.execute(_w.update().values(closes_at=datetime.now(UTC) - timedelta(seconds=1)))
    async with signed_in(portal.url, mail, participants[3]["email"]) as owner:
        page = await owner.get("/my")
        assert "Withdraw it" not in page.text
        late = await owner.post(
            f"/my/project/{number}/withdraw", data={"csrf": token_of(page.text)}
        )
        assert late.status_code == 409 and "closed" in late.text
    with engine.connect() as conn:
        row = conn.execute(sa.select(_p).where(_p.c.id == number)).one()
        actions = [h.action for h in conn.execute(sa.select(_r)).all()]
    assert row.title == "Mesh for All Villages" and row.status == "submitted"
    assert row.title_key == "mesh for all villages" and actions == ["edited"]
