"""The Expert Group's pages over real HTTP: an expert's list and progress, a score sheet kept
as a draft then submitted, a recusal that removes the score field, the refusals (another
category, the decision page, a forged score), and no vote count for anyone but the
secretariat."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from models.tables import Project
from services import judging
from tests.conftest import Portal
from tests.judging_flow import PID, phase_four
from tests.portal_flow import token_of
from tests.staff_flow import staff_sign_in

_j = Project.__table__  # type: ignore[attr-defined]


async def test_an_expert_scores_recuses_and_sees_no_count(
    portal: Portal, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    c = phase_four(engine)
    a, b, _ = c.experts
    c1, c2 = c.projects["C1"], c.projects["C2"]
    judging.assign(engine, a, PID, "C1", actor=c.secretariat.actor)
    judging.assign(engine, b, PID, "C1", actor=c.secretariat.actor)
    judging.save(engine, b, c1[0], {"impact": "3", "reach": "2"}, "B's secret view", submit=True)
    async with httpx.AsyncClient(base_url=portal.url) as client:
        await staff_sign_in(client, mail, engine, "expert0@itu.int")
        page = await client.get("/staff/judging")
        assert page.status_code == 200 and "Progress: 0 of 3" in page.text
        assert all(f"/staff/judging/{p}" in page.text for p in c1[:3])
        assert f"/staff/judging/{c2[0]}" not in page.text

        sheet = await client.get(f"/staff/judging/{c1[0]}")
        assert "What 0 does" in sheet.text and 'name="score:impact"' in sheet.text
        assert "B&#39;s secret view" not in sheet.text and "secret view" not in sheet.text
        csrf = token_of(sheet.text)
        draft = await client.post(
            f"/staff/judging/{c1[0]}",
            data={"score:impact": "7", "comment": "good", "action": "draft", "csrf": csrf},
        )
        assert draft.status_code == 303
        forged = await client.post(
            f"/staff/judging/{c1[0]}",
            data={"score:impact": "70", "score:reach": "1", "action": "submit", "csrf": csrf},
        )
        assert forged.status_code == 400 and "Impact: a score from 1 to 10" in forged.text
        done = await client.post(
            f"/staff/judging/{c1[0]}",
            data={"score:impact": "7", "score:reach": "4", "comment": "good", "action": "submit",
                  "csrf": csrf},
        )  # fmt: skip
        assert done.status_code == 303
        assert "Submitted." in (await client.get(f"/staff/judging/{c1[0]}")).text

        recused = await client.post(
            f"/staff/judging/{c1[1]}/recuse", data={"reason": "my employer", "csrf": csrf}
        )
        assert recused.status_code == 303
        after = (await client.get(f"/staff/judging/{c1[1]}")).text
        assert "conflict of interest" in after and 'name="score:' not in after
        refused = await client.post(
            f"/staff/judging/{c1[1]}",
            data={"score:impact": "9", "score:reach": "5", "action": "submit", "csrf": csrf},
        )
        assert refused.status_code == 400 and "no score" in refused.text
        assert "Progress: 2 of 3" in (await client.get("/staff/judging")).text

        # Another category, a project off the shortlist: not found, whatever the form says.
        for other in (c2[0], c1[3]):
            assert (await client.get(f"/staff/judging/{other}")).status_code == 404
            posted = await client.post(
                f"/staff/judging/{other}",
                data={"score:impact": "9", "score:reach": "5", "action": "submit", "csrf": csrf},
            )
            assert posted.status_code == 404 and "not among the projects you judge" in posted.text
        # No decision page, no count per project anywhere an expert can look.
        assert (await client.get("/staff/decision")).status_code == 403
        for path in (f"/staff/projects/{c1[0]}", "/staff/projects", "/staff/judging"):
            html = (await client.get(path)).text
            assert not re.search(r"<dt>votes</dt>", html), path


async def test_the_lead_reads_scores_not_votes_and_the_secretariat_assigns(
    portal: Portal, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    c = phase_four(engine)
    a = c.experts[0]
    c1 = c.projects["C1"]
    judging.assign(engine, a, PID, "C1", actor=c.secretariat.actor)
    judging.save(engine, a, c1[0], {"impact": "9", "reach": "3"}, "", submit=True)
    with engine.begin() as conn:  # as the workflow's select_winner records it
        conn.execute(_j.update().where(_j.c.id == c1[2]).values(winner=True))
    async with (
        httpx.AsyncClient(base_url=portal.url) as lead,
        httpx.AsyncClient(base_url=portal.url) as sec,
    ):
        await staff_sign_in(lead, mail, engine, "lead@itu.int")
        board = await lead.get("/staff/decision")
        assert board.status_code == 200 and "7.0" in board.text  # (9 * 2 + 3) / 3
        assert "Valid votes" not in board.text and "Assign an expert" not in board.text
        assert "ab" * 32 in board.text
        # Once a winner is chosen, the rest of the category's shortlist are its Champions.
        assert board.text.count('class="badge">Winner<') == 1
        assert board.text.count('class="badge">Champion<') == 2
        forbidden = await lead.post(
            "/staff/decision/assign",
            data={"expert": str(a.id), "contest": PID, "category": "C2",
                  "csrf": token_of(board.text)},
        )  # fmt: skip
        assert forbidden.status_code == 403

        await staff_sign_in(sec, mail, engine, "sec@itu.int", step=1)
        board = await sec.get("/staff/decision")
        assert "Valid votes" in board.text and "Assign an expert" in board.text
        assigned = await sec.post(
            "/staff/decision/assign",
            data={"expert": str(a.id), "contest": PID, "category": "C2",
                  "csrf": token_of(board.text)},
        )  # fmt: skip
        assert assigned.status_code == 303
    assert judging.assignments(engine, a.id) == [(PID, "C1"), (PID, "C2")]
