"""Check a cycle file, preview and start the cycle it describes, report where it stands."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.settings import Settings, get_settings
from models import ids
from models.cycle import CycleConfig
from models.cycle_file import ConfigError, load_cycle
from models.plan import default_shards
from models.wire import CycleInput, ProcessStatus
from reports.status import counts_for, registry_size
from reports.votes import VoteCounts, vote_counts
from services import audit
from services.calendar import Action, cycle_actions, reach
from services.database import ready_engine
from services.errors import INVALID, Refused
from services.temporal import connect
from workflows.cycle import AnnualCycleWorkflow
from workflows.process import ProcessWorkflow
from workflows.search_attributes import WSIS_NEXT_DEADLINE, WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR


class AlreadyRunning(Refused):
    """The cycle runs already: nothing was changed."""


class CycleFileRefused(Refused):
    """A cycle file with problems: every one of them, and nothing started."""

    def __init__(self, source: str, problems: list[str]) -> None:
        head = problems[0] if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"{source}: {head}; nothing was started", INVALID)
        self.source = source
        self.problems = problems


def load(path: Path) -> CycleConfig:
    """The cycle file at ``path``, or ``CycleFileRefused`` with every problem in it."""
    try:
        return load_cycle(path)
    except ConfigError as exc:
        raise CycleFileRefused(exc.source, list(exc.problems)) from None


@dataclass(frozen=True)
class Preview:
    """What starting a cycle would do: every action with whom it reaches, and those past."""

    cycle: CycleConfig
    actions: list[tuple[Action, int]]  # each action and how many people its messages reach
    past: list[Action]
    community: int  # subscribed participants, the secretariat left out


def preview(
    cycle: CycleConfig, *, now: datetime | None = None, settings: Settings | None = None
) -> Preview:
    """The calendar of ``cycle``, the reach of each message, and the actions already past."""
    now = now or datetime.now(UTC)
    settings = settings or get_settings()
    community = registry_size(ready_engine(settings.database_url), settings.secretariat_email)
    actions = cycle_actions(cycle)
    return Preview(
        cycle=cycle,
        actions=[(a, reach(a.audiences, community)) for a in actions],
        past=[a for a in actions if a.at <= now],
        community=community,
    )


def past_refusal(past: list[Action]) -> str:
    """One line: how many actions are past, the first of them, and what to do."""
    first = past[0]
    return (
        f"{len(past)} action(s) of this cycle are already past (the first: {first.process_id} "
        f"{first.summary!r} at {first.at.isoformat()}); nothing was started: move the dates, "
        "or start with --skip-past to apply their state without sending their messages"
    )


def quieted(cycle: CycleConfig, before: datetime) -> CycleConfig:
    """``cycle`` whose processes send no message for a step dated before ``before``."""
    return cycle.model_copy(
        update={
            "ocp": cycle.ocp.model_copy(update={"quiet_before": before}),
            "contests": tuple(
                c.model_copy(update={"quiet_before": before}) for c in cycle.contests
            ),
        }
    )


async def start_cycle(
    client: Client,
    cycle: CycleConfig,
    task_queue: str,
    *,
    recipients: int,
    quiet_before: datetime | None = None,
) -> str:
    """Start ``wsis-YEAR`` (the OCP and every contest as children); say if it already runs.

    Campaigns to the whole community are sharded as the cycle file says, or by the size of
    the audience (``recipients``: the registry's subscribed participants). Steps dated before
    ``quiet_before`` apply their state (windows open and close) but send no message.
    """
    shards = cycle.campaign_shards or default_shards(recipients)
    if quiet_before is not None:
        cycle = quieted(cycle, quiet_before)
    try:
        await client.start_workflow(
            AnnualCycleWorkflow.run,
            CycleInput(config=cycle, campaign_shards=shards),
            id=cycle.cycle_id,
            task_queue=task_queue,
            static_summary=f"{cycle.display_title}: the annual cycle (OCP and "
            f"{len(cycle.contests)} contest(s))",
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(WSIS_YEAR, cycle.year),
                    SearchAttributePair(WSIS_PROCESS, "cycle"),
                    SearchAttributePair(WSIS_PHASE, "not-started"),
                ]
            ),
        )
    except WorkflowAlreadyStartedError:
        return f"{cycle.cycle_id} is already running; nothing was changed"
    children = [cycle.ocp_id, *(cycle.contest_id(c) for c in cycle.contests)]
    sharding = f" (campaigns to everyone in {shards} shards)" if shards > 1 else ""
    quiet = " (past actions applied without their messages)" if quiet_before else ""
    return f"started {cycle.cycle_id}: " + ", ".join(children) + sharding + quiet


async def start(
    cycle: CycleConfig,
    *,
    skip_past: bool,
    actor: str = "cli",
    now: datetime | None = None,
    settings: Settings | None = None,
) -> str:
    """Start ``cycle``: refused if any action is past, unless ``skip_past``; then the past
    phases' state applies but none of their messages is sent. ``Refused`` if it runs.
    ``actor`` (a staff id) goes to the audit log."""
    now = now or datetime.now(UTC)
    settings = settings or get_settings()
    seen = preview(cycle, now=now, settings=settings)
    refused = seen.past and not skip_past
    try:
        client = await connect(settings)
    except RuntimeError:  # no Temporal server: a past cycle is still refused for its dates
        if refused:
            raise Refused(past_refusal(seen.past)) from None
        raise
    try:  # a running cycle says so first, whatever its dates
        running = await client.get_workflow_handle(cycle.cycle_id).describe()
    except RPCError:
        running = None
    if running is not None and running.status == WorkflowExecutionStatus.RUNNING:
        raise AlreadyRunning(f"{cycle.cycle_id} is already running; nothing was changed")
    if refused:
        raise Refused(past_refusal(seen.past))
    message = await start_cycle(
        client,
        cycle,
        settings.task_queue,
        recipients=seen.community,
        quiet_before=now if seen.past else None,
    )
    if "already running" in message:
        raise AlreadyRunning(message)
    audit.record(
        ready_engine(settings.database_url),
        actor=actor,
        action="cycle.start",
        target=cycle.cycle_id,
        detail={"skipped_past": len(seen.past), "community": seen.community},
    )
    return message


@dataclass
class ProcessReport:
    """Where one workflow of a cycle stands."""

    workflow_id: str
    state: str  # RUNNING, COMPLETED, ...
    phase: str | None
    next_deadline: datetime | None
    status: ProcessStatus | None = None  # None: the parent, or no worker answering
    worker_answering: bool = True
    counts: dict[str, int] = field(default_factory=dict)
    votes: VoteCounts | None = None  # contests: counts only, never per project


async def status(cycle: str, settings: Settings | None = None) -> list[ProcessReport]:
    """The cycle ``cycle`` (a year or an id) and its own processes only: a workflow whose id
    merely starts with the same text (``wsis-2024-demo-…``) belongs to another cycle."""
    settings = settings or get_settings()
    client = await connect(settings)
    cycle_id = ids.cycle_id(cycle)
    wanted = [cycle_id, ids.ocp_id(cycle_id)]
    async for wf in client.list_workflows(f"WorkflowId STARTS_WITH '{cycle_id}-'"):
        if wf.id not in wanted and wf.parent_id == cycle_id:
            wanted.append(wf.id)
    wanted.sort(key=lambda w: (w != cycle_id, not w.endswith("-ocp"), w))
    engine = ready_engine(settings.database_url)
    secretariat = settings.secretariat_email
    reports: list[ProcessReport] = []
    for wid in wanted:
        handle = client.get_workflow_handle(wid, result_type=ProcessStatus)
        try:
            desc = await handle.describe()
        except RPCError:
            continue
        if wid != cycle_id and desc.parent_id != cycle_id:
            continue
        attributes = desc.typed_search_attributes
        report = ProcessReport(
            workflow_id=wid,
            state=desc.status.name if desc.status else "?",
            phase=attributes.get(WSIS_PHASE),
            next_deadline=attributes.get(WSIS_NEXT_DEADLINE),
        )
        reports.append(report)
        if wid == cycle_id:
            continue
        if desc.status == WorkflowExecutionStatus.RUNNING:
            try:
                report.status = await handle.query(
                    ProcessWorkflow.status, rpc_timeout=timedelta(seconds=5)
                )
            except RPCError:
                report.worker_answering = False
        elif desc.status == WorkflowExecutionStatus.COMPLETED:
            report.status = await handle.result()
        if report.status is None:
            continue
        report.counts = await asyncio.to_thread(counts_for, wid, engine, secretariat)
        if not wid.endswith("-ocp"):
            report.votes = await asyncio.to_thread(vote_counts, wid, engine)
    if not reports:
        raise Refused(f"no running or finished cycle {cycle_id} found")
    return reports
