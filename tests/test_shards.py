"""Campaigns to the whole community are sharded as the cycle file says, or by the registry's
size: a shard is one campaign activity, so N workers can each send a part."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine
from temporalio.testing import WorkflowEnvironment

from cli.cycle import start_cycle
from core.settings import Settings
from devstack.catcher import MailCatcher
from models.plan import default_shards
from tests.test_changes import at, cycle_2017
from worker import build_worker


def test_the_default_is_one_shard_per_100000_recipients_up_to_8() -> None:
    assert [default_shards(n) for n in (0, 40, 100_000, 100_001, 300_000, 10**7)] == [
        1,
        1,
        1,
        2,
        3,
        8,
    ]


async def test_a_cycle_file_sets_the_shards_of_its_campaigns_to_everyone(
    skipping_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = skipping_env.client
    cycle = (await cycle_2017(skipping_env)).model_copy(
        update={"id": "wsis-2017-shards", "campaign_shards": 3}
    )
    # Without the file's figure, the registry decides (here, as if it were 250,000 people).
    unsharded = cycle.model_copy(update={"id": "wsis-2017-unset", "campaign_shards": None})
    async with build_worker(client, settings, engine, max_cached_workflows=0):
        message = await start_cycle(client, cycle, settings.task_queue, recipients=40)
        assert message.endswith("(campaigns to everyone in 3 shards)")
        other = await start_cycle(client, unsharded, settings.task_queue, recipients=250_000)
        assert other.endswith("(campaigns to everyone in 3 shards)")
        await at(skipping_env, cycle.ocp.opens + timedelta(hours=1))
        history = await client.get_workflow_handle(cycle.ocp_id).fetch_history()
        for cycle_id in (cycle.cycle_id, unsharded.cycle_id):
            await client.get_workflow_handle(cycle_id).terminate("test over")
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    opening = [a for a in scheduled if a.activity_type.name == "send_campaign"]
    assert len(opening) == 3
    per = mail.per_recipient(f"{cycle.ocp_id}:opening")
    assert len(per) == len(participants) and set(per.values()) == {1}
