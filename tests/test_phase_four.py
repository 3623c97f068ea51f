"""Phase IV end to end on the time-skipping server: the shortlist frozen at the tally with its
hash; three experts score (one recused on a project), the lead chooses the winner through the
console's service layer, which is the workflow's update (the history names the lead by staff
id); the contest announces the winner and the Champions."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from devstack.catcher import MailCatcher
from models.tables import Project
from services import audit, decision, judging, staff
from services.errors import Refused
from tests.conftest import history_text
from tests.phase_four_flow import PID, phase_four
from tests.test_changes import at
from worker import build_worker

_j = Project.__table__  # type: ignore[attr-defined]


async def test_experts_score_and_the_lead_chooses_the_winner(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    sec = staff.add(engine, "sec@itu.int", "secretariat", actor="cli:test")
    experts = [staff.add(engine, f"e{i}@itu.int", "expert", actor="cli:test") for i in range(3)]
    lead = staff.add(engine, "lead@itu.int", "expert-lead", actor="cli:test")
    async with build_worker(skipping_env.client, settings, engine, max_cached_workflows=0):
        run = await phase_four(skipping_env, settings, engine, participants)
        first, second, third = run.projects
        # The rubric came from the cycle file with the voting window.
        assert [c.code for c in judging.rubric(engine, PID)] == ["impact", "reach"]
        for expert in experts:
            judging.assign(engine, expert, PID, "", actor=sec.actor)
        judging.recuse(engine, experts[0], second, "I advised its team")
        sheets = ({"impact": "9", "reach": "5"}, {"impact": "6", "reach": "3"},
                  {"impact": "3", "reach": "3"})  # fmt: skip
        for expert, scores in zip(experts, sheets, strict=True):
            judging.save(engine, expert, third, scores, "", submit=True)
        for expert in experts[1:]:
            judging.save(engine, expert, second, {"impact": "10", "reach": "5"}, "", submit=True)
        board = decision.board(engine, lead, PID)
        assert board.sha256 and len(board.sha256) == 64 and board.ballots_counted == 6
        standings = board.categories[0].standings
        assert [s.project_id for s in standings] == [second, third, first]
        assert (standings[0].mean, standings[0].scored, standings[0].recusals) == (
            8.33,
            2,
            1,
        )  # (10 * 2 + 5) / 3

        with pytest.raises(Refused, match="secretariat's or the Expert Group lead's"):
            await decision.choose(engine, experts[1], PID, "C1", [second],
                                  client=skipping_env.client)  # fmt: skip
        with pytest.raises(Refused, match="not on the shortlist"):
            await decision.choose(engine, lead, PID, "C1", [9999], client=skipping_env.client)
        chosen = await decision.choose(engine, lead, PID, "C1", [second],
                                       client=skipping_env.client)  # fmt: skip
        assert chosen == [second]
        await at(skipping_env, run.contest.champions_announced + timedelta(hours=1))
        await run.handle.result()
        history = await run.handle.fetch_history()

    text = history_text(history)
    assert f"staff:{lead.id}" in text and "lead@itu.int" not in text
    with engine.connect() as conn:
        winners = conn.execute(sa.select(_j.c.id).where(_j.c.winner.is_(sa.true()))).scalars()
        assert list(winners) == [second]
    logged = {(e.action, e.actor) for e in audit.entries(engine)}
    assert ("judging.winner", lead.actor) in logged
    assert ("judging.recuse", experts[0].actor) in logged
    # The winner's owner and the Champions' owners were told.
    told = {m.recipients[0] for m in mail.received if m.campaign.endswith(":winners-owners")}
    assert told == {participants[1]["email"]}
