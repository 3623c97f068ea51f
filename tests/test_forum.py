"""Moving the Forum, as in 2019 (11-15 May moved to 8-12 April): one update on the cycle.

The OCP's final brief and every contest's ceremony move with the Forum, checked together by
the cycle file's rules against what each process plans now (a process reports its changes to
its cycle), and each process tells its participants once. On the time-skipping server; the
histories of this run are the new path behind ``workflow.patched("report-changes-to-cycle")``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from cli.cycle import start_cycle
from core.settings import Settings
from devstack.catcher import MailCatcher
from models.moves import forum_moved
from models.wire import CeremonyChange, ForumMove
from tests.conftest import history_text, record_history
from tests.test_changes import at, cycle_2017
from worker import SANDBOX, WORKFLOWS, build_worker
from workflows.cycle import AnnualCycleWorkflow
from workflows.ocp import OcpWorkflow
from workflows.prizes import PrizeContestWorkflow
from workflows.process import REPORT_CHANGES_PATCH
from workflows.reports import PROCESS_CHANGED

BY = {"requested_by": "secretariat"}
ROOT = Path(__file__).resolve().parent.parent


async def test_moving_the_forum_moves_the_final_brief_and_every_ceremony(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = skipping_env.client
    cycle = (await cycle_2017(skipping_env)).model_copy(update={"id": "wsis-2017-forum"})
    ocp, contest, forum = cycle.ocp, cycle.contests[0], cycle.forum
    assert ocp.final_brief is not None
    async with build_worker(client, settings, engine, max_cached_workflows=0):
        await start_cycle(client, cycle, settings.task_queue, recipients=40)
        parent = client.get_workflow_handle_for(AnnualCycleWorkflow.run, cycle.cycle_id)
        ocp_h = client.get_workflow_handle_for(OcpWorkflow.run, cycle.ocp_id)
        prizes_h = client.get_workflow_handle_for(
            PrizeContestWorkflow.run, cycle.contest_id(contest)
        )
        await at(skipping_env, contest.voting_opens + timedelta(days=15))

        # The secretariat moves the ceremony alone, to two days after the Champions: the
        # contest tells its cycle, which now knows the ceremony is no longer at the Forum.
        ceremony = contest.champions_announced + timedelta(days=2)
        await prizes_h.execute_update(
            PrizeContestWorkflow.move_ceremony,
            CeremonyChange(at=ceremony, reason="a ceremony of its own", **BY),
        )

        async def refused(move: ForumMove, message: str) -> None:
            before = len((await parent.fetch_history()).events)
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await parent.execute_update(AnnualCycleWorkflow.move_forum, move)
            assert message in str(err.value.cause), str(err.value.cause)
            # Nothing but task rounds (and the contest's report, which may land meanwhile).
            added = (await parent.fetch_history()).events[before:]
            assert {EventType.Name(e.event_type) for e in added} <= {
                "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
                "EVENT_TYPE_WORKFLOW_TASK_STARTED",
                "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
                "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
            }

        async def forum_moved_by(days: int) -> ForumMove:
            """What starter.py move-forum sends: the dates, and the cycle as it will be."""
            starts, ends = forum.starts + timedelta(days=days), forum.ends + timedelta(days=days)
            plan = await parent.query(AnnualCycleWorkflow.plan)
            now = await skipping_env.get_current_time()
            return ForumMove(
                starts=starts,
                ends=ends,
                reason=f"the Forum moves by {days} days",
                moved=forum_moved(plan, starts, ends, now),
                **BY,
            )

        # Five days earlier would put the (moved) ceremony before the Champions' day: only
        # the cycle's copy of the contest's current plan can see that.
        await refused(await forum_moved_by(-5), "must come after champions_announced")
        await refused(await forum_moved_by(-60), "final brief would move into the past")
        stale = (await forum_moved_by(14)).model_copy(update={"moved": cycle})
        await refused(stale, "the cycle changed since its plan was read")
        await refused(
            ForumMove(starts=forum.ends, ends=forum.starts, reason="typo", **BY),
            "the Forum must end after it starts",
        )
        told = await parent.execute_update(AnnualCycleWorkflow.move_forum, await forum_moved_by(14))
        assert set(told) == {cycle.ocp_id, cycle.contest_id(contest)}

        # (The Java test server's long poll for a result does not skip time: move it on.)
        await at(skipping_env, ocp.final_brief + timedelta(days=15))
        final = await parent.result()
        ocp_status = await ocp_h.query(OcpWorkflow.status)
        prizes_status = await prizes_h.query(PrizeContestWorkflow.status)
        histories = {
            name: await h.fetch_history()
            for name, h in (
                ("cycle_2017_forum_moved", parent),
                ("ocp_2017_forum_moved_child", ocp_h),
                ("prizes_2017_forum_moved_child", prizes_h),
            )
        }

    assert final == {cycle.ocp_id: "completed", cycle.contest_id(contest): "completed"}
    # Phase VI and the ceremony happened at their moved dates.
    brief = ocp_status.entered["final-brief"]
    assert abs(brief - (ocp.final_brief + timedelta(days=14))) < timedelta(seconds=2)
    held = prizes_status.entered["announcement"]
    assert abs(held - (ceremony + timedelta(days=14))) < timedelta(seconds=2)
    # Each process told its participants once.
    everyone = len(participants)  # the secretariat is no participant
    for campaign in (f"{cycle.ocp_id}:forum-moved:1", f"{cycle.contest_id(contest)}:forum-moved:2"):
        per = mail.per_recipient(campaign)
        assert len(per) == everyone and set(per.values()) == {1}, campaign
    # The new path is in the histories: the patch marker, the reports to the cycle; and the
    # histories replay, with no personal data in them.
    child = history_text(histories["prizes_2017_forum_moved_child"])
    assert REPORT_CHANGES_PATCH in child
    assert PROCESS_CHANGED in history_text(histories["cycle_2017_forum_moved"])
    replayer = Replayer(
        workflows=list(WORKFLOWS), workflow_runner=SANDBOX, data_converter=client.data_converter
    )
    for name, history in histories.items():
        text = history_text(history)
        assert not any(p["email"] in text or p["name"] in text for p in participants), name
        assert (
            await replayer.replay_workflow(history, raise_on_replay_failure=False)
        ).replay_failure is None
        record_history(name, history)


def test_a_move_across_a_change_of_summer_time_keeps_local_times() -> None:
    """Moved a fortnight later across the last Sunday of March, the ceremony stays at 18:00
    in Geneva (its UTC hour changes); a date already past does not move."""
    from models.cycle_file import load_cycle

    geneva = ZoneInfo("Europe/Zurich")
    cycle = load_cycle(ROOT / "cycles" / "2017.toml")
    contest = cycle.contests[0].model_copy(
        update={"ceremony": datetime(2017, 3, 20, 18, tzinfo=geneva)}
    )
    cycle = cycle.model_copy(update={"contests": (contest,)})
    brief = cycle.ocp.final_brief
    assert brief is not None
    starts, ends = cycle.forum.starts + timedelta(days=14), cycle.forum.ends + timedelta(days=14)

    moved = forum_moved(cycle, starts, ends, datetime(2017, 3, 1, tzinfo=geneva))
    ceremony = moved.contests[0].ceremony.astimezone(geneva)
    assert (ceremony.date().isoformat(), ceremony.hour) == ("2017-04-03", 18)
    elapsed = moved.contests[0].ceremony.astimezone(UTC) - contest.ceremony.astimezone(UTC)
    assert elapsed == timedelta(days=14, hours=-1)  # one hour less: summer time began
    assert moved.ocp.final_brief == brief + timedelta(days=14)
    assert moved.forum.starts == starts

    later = forum_moved(cycle, starts, ends, brief + timedelta(days=1))  # both are past now
    assert later.ocp.final_brief == brief and later.contests[0].ceremony == contest.ceremony
