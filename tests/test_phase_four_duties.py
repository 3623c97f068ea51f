"""Phase IV's durable duties on the time-skipping server, counted at a real SMTP server.

Three experts judge C1 (one recused on a project): the experts who have not finished are
reminded 7 and 2 days before the end of phase IV, and again from the new end once the
secretariat moves it; the lead chooses C1's winner. C2 is left without a winner: at the end
of phase IV the Champions are not announced, the secretariat is told every day, and once its
winner is chosen the Champions go out, then the winners at the ceremony.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from core.settings import Settings
from devstack.catcher import MailCatcher
from models.wire import SelectionChange
from services import decision, judging, staff
from tests.conftest import history_text, record_history
from tests.helpers import assert_eventually
from tests.phase_four_flow import PID, phase_four
from tests.test_changes import at
from worker import SANDBOX, WORKFLOWS, build_worker
from workflows.prizes import PrizeContestWorkflow

EXPERTS = ("e0@itu.int", "e1@itu.int", "e2@itu.int")
FULL = {"impact": "7", "reach": "4"}


def told(mail: MailCatcher, step: str) -> list[str]:
    """Who received the campaign of ``step`` (each message once), sorted."""
    return sorted(r for m in mail.received if m.campaign == f"{PID}:{step}" for r in m.recipients)


def steps_sent(mail: MailCatcher, prefix: str) -> set[str]:
    return {m.campaign for m in mail.received if m.campaign.startswith(f"{PID}:{prefix}")}


async def waiting_for(handle: WorkflowHandle[Any, Any]) -> str | None:
    return (await handle.query(PrizeContestWorkflow.status)).waiting_for


async def test_reminders_moves_and_a_category_without_its_winner(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    env = skipping_env
    sec = staff.add(engine, "sec@itu.int", "secretariat", actor="cli:test")
    experts = [staff.add(engine, a, "expert", actor="cli:test") for a in EXPERTS]
    lead = staff.add(engine, "lead@itu.int", "expert-lead", actor="cli:test")
    async with build_worker(env.client, settings, engine, max_cached_workflows=0):
        run = await phase_four(env, settings, engine, participants, categories=("C1", "C2"))
        end = run.contest.champions_announced
        c1, c2 = run.by_category["C1"], run.by_category["C2"]
        for expert in experts:
            judging.assign(engine, expert, PID, "C1", actor=sec.actor)
        judging.recuse(engine, experts[0], c1[1], "I advised its team")

        # Not a minute early; then every expert with work left (all three) is reminded.
        await at(env, end - timedelta(days=7, minutes=1))
        assert steps_sent(mail, "expert-reminder") == set()
        await at(env, end - timedelta(days=7) + timedelta(hours=1))

        async def seven_days() -> None:
            assert told(mail, "expert-reminder:7d") == list(EXPERTS)

        await assert_eventually(seven_days)

        # e0 scores what it is not recused from, e1 scores all; e2 keeps a draft: unfinished.
        for project in (c1[0], c1[2]):
            judging.save(engine, experts[0], project, FULL, "", submit=True)
        for project in c1:
            judging.save(engine, experts[1], project, FULL, "", submit=True)
        judging.save(engine, experts[2], c1[0], FULL, "", submit=True)
        judging.save(engine, experts[2], c1[1], {"impact": "5"}, "a draft", submit=False)
        await at(env, end - timedelta(days=2) + timedelta(hours=1))

        async def two_days() -> None:
            assert told(mail, "expert-reminder:2d") == [EXPERTS[2]]

        await assert_eventually(two_days)
        reminder = next(m for m in mail.received if m.campaign.endswith(":expert-reminder:2d"))
        text = reminder.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "ends in 2 days" in text and "/staff/judging" in text
        assert "List-Unsubscribe" not in reminder.message  # a duty, not a bulk announcement

        # A day before the end the secretariat moves it three days on: the reminders are
        # planned again from the new end (its 7-day one was past when it moved: not sent).
        await at(env, end - timedelta(days=1))
        new_end = end + timedelta(days=3)
        await run.handle.execute_update(
            PrizeContestWorkflow.move_selection,
            SelectionChange(ends=new_end, requested_by="secretariat", reason="experts asked"),
        )
        await at(env, new_end - timedelta(days=2, minutes=1))
        assert steps_sent(mail, "expert-reminder") == {
            f"{PID}:expert-reminder:7d",
            f"{PID}:expert-reminder:2d",
        }
        await at(env, new_end - timedelta(days=2) + timedelta(hours=1))

        async def moved() -> None:
            assert told(mail, "expert-reminder:moved-1:2d") == [EXPERTS[2]]

        await assert_eventually(moved)

        # The lead chooses C1's winner (the project e0 was recused from); C2 gets none.
        await decision.choose(engine, lead, PID, "C1", [c1[1]], client=env.client)

        # Phase IV ends: no Champions; the secretariat is told that day and every day after.
        await at(env, new_end + timedelta(days=2, hours=1))

        async def alerted() -> None:
            assert steps_sent(mail, "winners-missing") == {
                f"{PID}:winners-missing:{day}" for day in (1, 2, 3)
            }
            assert "C2" in (await waiting_for(run.handle) or "")

        await assert_eventually(alerted)
        assert told(mail, "winners-missing:3") == [settings.secretariat_email]
        note = next(m for m in mail.received if m.campaign.endswith("winners-missing:3"))
        assert "C2" in note.message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert not steps_sent(mail, "champions")
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await run.handle.execute_update(
                PrizeContestWorkflow.move_selection,
                SelectionChange(ends=new_end + timedelta(days=9), requested_by="sec", reason="x"),
            )
        assert "phase IV has ended" in str(refused.value.cause)

        # The secretariat chooses C2's winner: the Champions go out at once, the alerts stop.
        await decision.choose(engine, sec, PID, "C2", [c2[0]], client=env.client)

        async def champions() -> None:
            owners = told(mail, "champions-owners")
            assert owners == sorted({run.owners[p] for p in (*c1, *c2)})
            assert (await waiting_for(run.handle)) is None

        await assert_eventually(champions)
        await at(env, new_end + timedelta(days=5))
        assert len(steps_sent(mail, "winners-missing")) == 3
        await at(env, run.contest.ceremony + timedelta(hours=1))
        await asyncio.wait_for(run.handle.result(), 120)
        history = await run.handle.fetch_history()

    assert told(mail, "winners-owners") == sorted({run.owners[c1[1]], run.owners[c2[0]]})
    # Each expert's reminders reached them once each; no address reached the history.
    text = history_text(history)
    assert not any(address in text for address in EXPERTS)
    assert "phase-four-duties" in text
    record_history("prizes_2017_phase_four_duties", history)
    replayed = await Replayer(
        workflows=list(WORKFLOWS), workflow_runner=SANDBOX, data_converter=pydantic_data_converter
    ).replay_workflow(history, raise_on_replay_failure=False)
    assert replayed.replay_failure is None, replayed.replay_failure
