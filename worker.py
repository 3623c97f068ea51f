"""The worker: runs the engine's workflows and activities. Stateless; run as many as needed.

python worker.py            # connects to WSIS_TEMPORAL_ADDRESS (default localhost:7233)
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.campaign import CampaignActivities
from activities.prizes import PrizeActivities
from activities.windows import WindowActivities
from core.db import get_engine, migrate
from core.log import configure_logging, get_logger
from core.settings import Settings, get_settings
from intake.participants import ensure_secretariat
from mail.outbox.retry import retry_deferred_mail
from services.temporal import connect
from workflows.announcement import AnnouncementWorkflow
from workflows.cycle import AnnualCycleWorkflow
from workflows.ocp import OcpWorkflow
from workflows.prizes import PrizeContestWorkflow

WORKFLOWS: Sequence[type] = (
    AnnualCycleWorkflow,
    OcpWorkflow,
    PrizeContestWorkflow,
    AnnouncementWorkflow,
)

# The engine's own modules are deterministic data and helpers: load them once, outside the
# sandbox, instead of re-importing them for every workflow run.
SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "models",
        "activities",
        "mail",
        "reports",
        "core",
        "intake",
        "sqlalchemy",
        "sqlmodel",
        "jinja2",
        "aiosmtplib",
        "structlog",
        "email_validator",
    )
)


def activities_for(settings: Settings, engine: Engine) -> list[Any]:
    """Every activity the workflows call, bound to ``settings`` and ``engine``."""
    campaign = CampaignActivities(settings, engine)
    windows = WindowActivities(engine)
    prizes = PrizeActivities(engine)
    return [
        prizes.check_eligibility,
        prizes.freeze_nominations,
        prizes.tally,
        prizes.record_winners,
        campaign.send_campaign,
        campaign.flush_outbox,
        windows.open_window,
        windows.move_window,
        windows.close_window,
        windows.cancel_window,
    ]


def build_worker(
    client: Client,
    settings: Settings,
    engine: Engine,
    *,
    activities: Sequence[Any] | None = None,
    **options: Any,
) -> Worker:
    """A worker on ``settings.task_queue`` with the engine's workflows and activities
    (``activities`` replaces the activity list: tests stand in a faulty one)."""
    ensure_secretariat(engine, settings.secretariat_email)
    # A campaign's heartbeat reaches the server at least every 2 s, so that a cancel reaches a
    # running campaign within seconds (the SDK's default throttle is 80% of the timeout).
    options.setdefault("max_heartbeat_throttle_interval", timedelta(seconds=2))
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=list(WORKFLOWS),
        activities=list(activities) if activities is not None else activities_for(settings, engine),
        activity_executor=ThreadPoolExecutor(max_workers=16),
        workflow_runner=SANDBOX,
        **options,
    )


async def main() -> None:
    configure_logging()
    log = get_logger("worker")
    settings = get_settings()
    migrate()
    client = await connect(settings)
    worker = build_worker(client, settings, get_engine())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker.started", task_queue=settings.task_queue, address=settings.temporal_address)
    # Deferred one-person mail (acknowledgements, receipts) is retried by every worker on its
    # own schedule, whether or not a window closes (mail/outbox/retry.py).
    retries = asyncio.create_task(retry_deferred_mail(settings, get_engine(), stop))
    async with worker:
        await stop.wait()
    await retries
    log.info("worker.stopped")


if __name__ == "__main__":
    asyncio.run(main())
