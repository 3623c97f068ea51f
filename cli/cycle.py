"""Check a cycle file, start the cycle it describes, follow it while it runs."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from cli.common import INVALID, REFUSED, Cycle, connect, fail, iso_utc
from cli.votes import count_lines
from core.db import get_engine
from core.log import configure_logging
from core.settings import get_settings
from mail.compose import local_time
from models import ids
from models.cycle import CycleConfig
from models.cycle_file import ConfigError, load_cycle
from models.phases import OCP_PHASES, PRIZE_PHASES
from models.plan import default_shards
from models.text import printable
from models.wire import CycleInput, ProcessStatus
from reports.status import counts_for, registry_size
from workflows.cycle import AnnualCycleWorkflow
from workflows.process import ProcessWorkflow
from workflows.search_attributes import WSIS_NEXT_DEADLINE, WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR

commands = typer.Typer()


def load(path: Path) -> CycleConfig:
    """The cycle file at ``path``, or every problem in it and exit 2."""
    try:
        return load_cycle(path)
    except ConfigError as exc:
        source = printable(exc.source)
        if len(exc.problems) == 1:  # one problem, one line
            typer.echo(f"{source}: {exc.problems[0]}; nothing was started", err=True)
        else:
            typer.echo(f"{source}: {len(exc.problems)} problems; nothing was started", err=True)
            for problem in exc.problems:
                typer.echo(f"  {problem}", err=True)
        raise typer.Exit(INVALID) from None


def _line(label: str, when: datetime, zone: str) -> str:
    local = when.astimezone(ZoneInfo(zone))
    return f"  {label:<52} {local.isoformat():<27} {iso_utc(when)}"


@commands.command()
def check(file: Path) -> None:
    """Validate a cycle file and print every phase with its local and UTC time (ISO 8601)."""
    cycle = load(file)
    typer.echo(f"{cycle.cycle_id}: {cycle.display_title} (valid)")
    o = cycle.ocp
    typer.echo(f"\nOpen Consultation Process {cycle.ocp_id}  [local ({o.timezone}), UTC]")
    starts = o.phase_starts()
    for p in OCP_PHASES:
        typer.echo(_line(p.label, starts[p.code], o.timezone))
    for key, m in sorted(o.meetings.items(), key=lambda km: km[1].starts):
        typer.echo(
            _line(f"  meeting '{key}' (phase {m.phase}) [{m.timezone}]", m.starts, m.timezone)
        )
    for contest in cycle.contests:
        typer.echo(
            f"\n{contest.name} {cycle.contest_id(contest)}  [local ({contest.timezone}), UTC]"
            f"  {len(contest.categories)} categories, shortlist {contest.shortlist_size}"
        )
        cs = contest.phase_starts()
        for p in PRIZE_PHASES:
            typer.echo(_line(p.label, cs[p.code], contest.timezone))
        typer.echo(_line("  Champions announced", contest.champions_announced, contest.timezone))
    forum = cycle.forum
    typer.echo(f"\nForum: {forum.starts.isoformat()} to {forum.ends.isoformat()}, {forum.venue}")


async def start_cycle(
    client: Client, cycle: CycleConfig, task_queue: str, *, recipients: int
) -> str:
    """Start ``wsis-YEAR`` (the OCP and every contest as children); say if it already runs.

    Campaigns to the whole community are sharded as the cycle file says, or by the size of
    the audience (``recipients``: the registry's subscribed participants).
    """
    shards = cycle.campaign_shards or default_shards(recipients)
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
    return f"started {cycle.cycle_id}: " + ", ".join(children) + sharding


@commands.command()
def start(file: Path) -> None:
    """Start the cycle described in FILE: the OCP and every contest (refused if it runs)."""
    cycle = load(file)

    async def go() -> str:
        settings = get_settings()
        recipients = await asyncio.to_thread(registry_size, get_engine())
        return await start_cycle(
            await connect(settings), cycle, settings.task_queue, recipients=recipients
        )

    message = asyncio.run(go())
    typer.echo(message)
    if "already running" in message:
        raise typer.Exit(REFUSED)


async def _status(cycle: str) -> list[str]:
    client = await connect()
    cycle_id = ids.cycle_id(cycle)
    wanted = [cycle_id, ids.ocp_id(cycle_id)]
    async for wf in client.list_workflows(f"WorkflowId STARTS_WITH '{cycle_id}-'"):
        if wf.id not in wanted:
            wanted.append(wf.id)
    wanted.sort(key=lambda w: (w != cycle_id, not w.endswith("-ocp"), w))
    lines = [cycle_id]
    found = False
    for wid in wanted:
        handle = client.get_workflow_handle(wid, result_type=ProcessStatus)
        try:
            desc = await handle.describe()
        except RPCError:
            continue
        found = True
        attributes = desc.typed_search_attributes
        lines.append(f"\n{wid}  [{desc.status.name if desc.status else '?'}]")
        if wid == cycle_id:
            lines.append(f"  {attributes.get(WSIS_PHASE)}: the parent of the processes below")
            continue
        status: ProcessStatus | None = None
        if desc.status == WorkflowExecutionStatus.RUNNING:
            try:
                status = await handle.query(
                    ProcessWorkflow.status, rpc_timeout=timedelta(seconds=5)
                )
            except RPCError:
                lines.append("  (no worker is answering: showing search attributes only)")
        elif desc.status == WorkflowExecutionStatus.COMPLETED:
            status = await handle.result()
        if status is None:
            lines.append(
                f"  phase: {attributes.get(WSIS_PHASE)}   "
                f"next deadline: {attributes.get(WSIS_NEXT_DEADLINE)}"
            )
            continue
        lines += _process_lines(status)
        counts = await asyncio.to_thread(counts_for, wid, get_engine())
        lines.append("  counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if not wid.endswith("-ocp"):
            lines += await asyncio.to_thread(count_lines, wid)
    if not found:
        raise fail(f"no running or finished cycle {cycle_id} found")
    return lines


def _process_lines(status: ProcessStatus) -> list[str]:
    lines = [f"  phase: {status.phase_name}"]
    if status.cancelled:
        lines.append(f"  cancelled: {status.cancelled}")
    if status.waiting_for:
        lines.append(f"  waiting for: {status.waiting_for}")
    if status.running:
        lines.append(f"  running now: {status.running}")
    for change in status.pending_changes:
        lines.append(f"  change accepted, applied once the running step ends: {change}")
    if status.upcoming:
        lines.append("  still to come:")
    for step in status.upcoming:
        lines.append(f"    {iso_utc(step.at)}  {local_time(step.at, status.timezone)}")
        lines.append(f"        {step.summary}")
    return lines


@commands.command()
def status(cycle: Cycle) -> None:
    """Each process of a cycle (YEAR or id): phase, actions still to come, counts."""
    configure_logging()
    for line in asyncio.run(_status(cycle)):
        typer.echo(line)
