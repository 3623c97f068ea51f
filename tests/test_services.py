"""The service layer the CLI and the console share: ``status`` of one year, a database
without schema, the secretariat's address that is no participant."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from core.db import MIGRATIONS_DIR, create_db_engine
from core.settings import Settings
from intake.participants import ensure_secretariat
from mail.audience import audience_select
from models.cycle_file import load_cycle
from models.moves import rebased
from models.wire import Audience, CampaignRequest, MessageKind
from reports.status import counts_for, registry_size
from services.cycles import start_cycle
from services.database import ready_engine
from services.errors import Refused
from tests.helpers import assert_eventually
from worker import build_worker

ROOT = Path(__file__).resolve().parent.parent
SECRETARIAT = "wsis-secretariat@itu.int"


def starter(*args: str, db_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [sys.executable, "starter.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={"WSIS_DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", **env},
    )
    assert "Traceback" not in run.stderr, run.stderr
    return run


def test_a_database_without_schema_is_migrated_and_an_old_one_named(tmp_path: Path) -> None:
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    run = starter("start", "cycles/2024.toml", "--preview", db_url=fresh)
    assert run.returncode == 0, run.stderr
    assert "wsis-2024: 49 actions" in run.stdout  # 43, and 2 experts' reminders per contest
    engine = create_db_engine(fresh)
    assert "participant" in sa.inspect(engine).get_table_names()

    old = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", old)
    command.upgrade(config, "0007")
    with pytest.raises(Refused, match=r"run `python starter.py db upgrade` first"):
        ready_engine(old)
    run = starter("start", "cycles/2024.toml", "--preview", db_url=old)
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert "db upgrade" in run.stderr


def test_a_cycle_with_past_actions_is_refused_listing_them(tmp_path: Path) -> None:
    run = starter("start", "cycles/2024.toml", db_url=f"sqlite:///{tmp_path / 'w.db'}")
    assert run.returncode == 1 and run.stderr.count("\n") == 1, run.stderr
    assert "49 action(s) of this cycle are already past" in run.stderr
    assert "--skip-past" in run.stderr


def test_the_secretariat_is_no_participant(
    engine: Engine, settings: Settings, participants: list[dict[str, str]]
) -> None:
    ensure_secretariat(engine, SECRETARIAT.upper())
    with engine.connect() as conn:
        everyone = set(
            conn.execute(
                audience_select(
                    CampaignRequest(
                        key="k",
                        process_id="wsis-2030-ocp",
                        kind=MessageKind.OCP_OPENING,
                        audience=Audience.EVERYONE,
                        title="t",
                        timezone="Europe/Zurich",
                    ),
                    settings,
                )
            ).scalars()
        )
        ours = conn.execute(
            sa.text("SELECT id FROM participant WHERE email = :e"), {"e": SECRETARIAT}
        ).scalar_one()
    assert len(everyone) == 30 and ours not in everyone
    assert registry_size(engine, SECRETARIAT) == 30
    assert counts_for("wsis-2030-ocp", engine, SECRETARIAT)["participants"] == 30


@pytest.mark.devserver
async def test_status_of_a_year_reports_that_years_processes_only(
    dev_env: WorkflowEnvironment, settings: Settings, engine: Engine, db_url: str
) -> None:
    client = dev_env.client
    future = rebased(
        load_cycle(ROOT / "cycles" / "2017.toml"), datetime.now(UTC) + timedelta(days=30)
    )
    year = future.model_copy(update={"id": "wsis-2017"})
    rehearsal = future.model_copy(update={"id": "wsis-2017-rehearsal"})
    async with build_worker(client, settings, engine):
        for cycle in (year, rehearsal):
            await start_cycle(client, cycle, settings.task_queue, recipients=0)
        for wid in (year.ocp_id, rehearsal.ocp_id):  # both have started their children

            async def started(wid: str = wid) -> None:
                try:
                    await client.get_workflow_handle(wid).describe()
                except RPCError as exc:
                    raise AssertionError(f"{wid} has not started: {exc.message}") from None

            await assert_eventually(started)
        run = await asyncio.to_thread(
            starter,
            "status",
            "2017",
            db_url=db_url,
            WSIS_TEMPORAL_ADDRESS=client.service_client.config.target_host,
            WSIS_TASK_QUEUE=settings.task_queue,
        )
        for cycle in (year, rehearsal):
            await client.get_workflow_handle(cycle.cycle_id).terminate("test over")
    assert run.returncode == 0, run.stderr
    assert "wsis-2017-ocp  [RUNNING]" in run.stdout and "wsis-2017-prizes  [RUNNING]" in run.stdout
    assert "rehearsal" not in run.stdout


def test_a_public_notice_is_checked_before_anything_is_sent(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    base = ["change-deadline", "2030", "--to", "2030-03-01T23:59:59+01:00", "--by", "secretariat"]
    cases = [
        (["--reason", "r", "--notice", "fr=Bonjour"], "give it in English too"),
        (["--reason", "r", "--notice", "xx=Hi", "--notice", "en=Hi"], "'xx' is not one of"),
        (["--reason", "r", "--notice", "en=write to jane@itu.int"], "contains an e-mail address"),
        (["--reason", "r", "--notice", "English"], "is not LANG=TEXT"),
    ]
    bad = tmp_path / "notice.toml"
    bad.write_text('en = "unterminated\n', encoding="utf-8")
    cases.append((["--reason", "r", "--notice-file", str(bad)], "--notice-file: notice.toml"))
    for extra, expected in cases:
        run = starter(*base, *extra, db_url=db)
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
        assert expected in run.stderr, run.stderr
