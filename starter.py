"""The secretariat's command line: check and start a cycle, import participants, take
submissions, follow a running cycle.

    python starter.py check cycles/2017.toml
    python starter.py participants import samples/participants.csv
    python starter.py start cycles/2017.toml
    python starter.py status 2017
    python starter.py submit-ocp 2017 --name ... --email ... --organization ... --country ...

Exit status: 0 done, 1 refused or failed (the message says why), 2 invalid input.
"""

from __future__ import annotations

import asyncio
import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.db import get_engine, migrate
from core.log import configure_logging
from core.settings import get_settings
from intake.ocp import OcpForm, submit_ocp
from intake.participants import import_participants
from intake.windows import Refused
from mail.compose import local_time
from models.cycle import ConfigError, CycleConfig, load_cycle
from models.phases import OCP_PHASES, PRIZE_PHASES
from models.wire import OcpInput, ProcessStatus
from reports.status import counts_for
from workflows.ocp import OcpWorkflow
from workflows.search_attributes import WSIS_NEXT_DEADLINE, WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
participants_app = typer.Typer(no_args_is_help=True, help="The stakeholder registry.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
app.add_typer(participants_app, name="participants")
app.add_typer(db_app, name="db")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def iso(when: datetime) -> str:
    return when.isoformat()


def iso_utc(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load(path: Path) -> CycleConfig:
    try:
        return load_cycle(path)
    except ConfigError as exc:
        typer.echo(f"{exc.source}: {len(exc.problems)} problem(s); nothing was started", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(2) from None


def _line(label: str, when: datetime, zone: str) -> str:
    local = when.astimezone(_zone(zone))
    return f"  {label:<52} {local.isoformat():<27} {iso_utc(when)}"


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)


@app.command()
def check(file: Path) -> None:
    """Validate a cycle file and print every phase with its local and UTC time (ISO 8601)."""
    cycle = _load(file)
    typer.echo(f"{cycle.cycle_id}: {cycle.display_title} (valid)")
    o = cycle.ocp
    typer.echo(f"\nOpen Consultation Process {cycle.ocp_id}  [local ({o.timezone}), UTC]")
    starts = o.phase_starts()
    for p in OCP_PHASES:
        typer.echo(_line(p.label, starts[p.code], o.timezone))
    for key, m in sorted(o.meetings.items(), key=lambda km: km[1].starts):
        typer.echo(_line(f"  meeting '{key}' (phase {m.phase}) [{m.timezone}]", m.starts, m.timezone))
    for contest in cycle.contests:
        typer.echo(f"\n{contest.name} {cycle.contest_id(contest)}  [local ({contest.timezone}), UTC]"
                   f"  {len(contest.categories)} categories, shortlist {contest.shortlist_size}")
        cs = contest.phase_starts()
        for p in PRIZE_PHASES:
            typer.echo(_line(p.label, cs[p.code], contest.timezone))
        typer.echo(_line("  Champions announced", contest.champions_announced, contest.timezone))
    typer.echo(f"\nForum: {iso(cycle.forum.starts)} to {iso(cycle.forum.ends)}, {cycle.forum.venue}")


@participants_app.command("import")
def participants_import(file: Path) -> None:
    """Load the stakeholder registry from CSV (name, email, organization, country,
    stakeholder_type, language). Invalid rows are listed; valid rows are kept."""
    migrate()
    try:
        report = import_participants(
            file, get_engine(), progress=lambda n: typer.echo(f"  {n} rows imported...", err=True)
        )
    except (OSError, ValueError) as exc:
        raise fail(str(exc), 2) from None
    typer.echo(f"{report.created} created, {report.updated} updated, {len(report.errors)} refused")
    for line, reason in report.errors:
        typer.echo(f"  line {line}: {reason}", err=True)
    if report.errors:
        raise typer.Exit(2 if not report.accepted else 1)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    migrate()
    typer.echo("database is up to date")


async def _start(cycle: CycleConfig) -> str:
    from worker import connect

    settings = get_settings()
    client = await connect(settings)
    try:
        await client.start_workflow(
            OcpWorkflow.run,
            OcpInput(cycle_id=cycle.cycle_id, year=cycle.year, title=cycle.display_title,
                     ocp=cycle.ocp),
            id=cycle.ocp_id,
            task_queue=settings.task_queue,
            static_summary=f"{cycle.display_title}: Open Consultation Process",
            search_attributes=TypedSearchAttributes([
                WSIS_YEAR.value_set(cycle.year),
                WSIS_PROCESS.value_set("ocp"),
                WSIS_PHASE.value_set("not-started"),
            ]),
        )
    except WorkflowAlreadyStartedError:
        return f"{cycle.ocp_id} is already running; nothing was changed"
    return f"started {cycle.ocp_id}"


@app.command()
def start(file: Path) -> None:
    """Start the cycle described in FILE (refused if that cycle is already running)."""
    cycle = _load(file)
    message = asyncio.run(_start(cycle))
    typer.echo(message)
    if "already running" in message:
        raise typer.Exit(1)


def process_ids(cycle: str) -> tuple[str, list[str]]:
    """``2017`` or ``wsis-2017`` -> the cycle id and the ids of its processes."""
    cycle_id = f"wsis-{cycle}" if cycle.isdigit() else cycle
    return cycle_id, [f"{cycle_id}-ocp"]


async def _status(cycle: str) -> list[str]:
    from worker import connect

    client: Client = await connect()
    cycle_id, ids = process_ids(cycle)
    lines = [f"{cycle_id}"]
    found = False
    async for wf in client.list_workflows(f"WorkflowId STARTS_WITH '{cycle_id}-'"):
        if wf.id not in ids:
            ids.append(wf.id)
    for wid in ids:
        handle = client.get_workflow_handle(wid)
        try:
            desc = await handle.describe()
        except RPCError:
            continue
        found = True
        sa: TypedSearchAttributes = desc.typed_search_attributes
        lines.append(f"\n{wid}  [{desc.status.name if desc.status else '?'}]")
        status: ProcessStatus | None = None
        if desc.status == WorkflowExecutionStatus.RUNNING:
            try:
                status = await handle.query("status", result_type=ProcessStatus,
                                            rpc_timeout=timedelta(seconds=5))
            except RPCError:
                lines.append("  (no worker is answering: showing search attributes only)")
        elif desc.status == WorkflowExecutionStatus.COMPLETED:
            status = await handle.result(result_type=ProcessStatus)
        if status is None:
            lines.append(f"  phase: {sa.get(WSIS_PHASE)}   next deadline: {sa.get(WSIS_NEXT_DEADLINE)}")
            continue
        lines.append(f"  phase: {status.phase_name}")
        if status.cancelled:
            lines.append(f"  cancelled: {status.cancelled}")
        if status.waiting_for:
            lines.append(f"  waiting for: {status.waiting_for}")
        if status.upcoming:
            lines.append("  still to come:")
        for step in status.upcoming:
            lines.append(f"    {iso_utc(step.at)}  {local_time(step.at, status.timezone)}")
            lines.append(f"        {step.summary}")
        counts = await asyncio.to_thread(counts_for, wid, get_engine())
        lines.append("  counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if not found:
        raise fail(f"no running or finished cycle {cycle_id} found")
    return lines


@app.command()
def status(cycle: str) -> None:
    """Each process of a cycle (YEAR or id): phase, actions still to come, counts."""
    configure_logging()
    for line in asyncio.run(_status(cycle)):
        typer.echo(line)


@app.command("submit-ocp")
def submit_ocp_command(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id, e.g. 2017")],
    name: Annotated[str | None, typer.Option("--name", help="Full name")] = None,
    email: str | None = None,
    organization: str | None = None,
    country: str | None = None,
    telephone: str | None = None,
    stakeholder_type: str | None = None,
    proposal: Annotated[str | None, typer.Option(help="The proposal text")] = None,
    csv_file: Annotated[Path | None, typer.Option("--csv", help="A batch: one form a row")] = None,
) -> None:
    """Record an official OCP submission (or a CSV batch) and acknowledge it by email."""
    migrate()
    cycle_id, _ = process_ids(cycle)
    process_id = f"{cycle_id}-ocp"
    rows: list[tuple[str, dict[str, Any]]] = []
    if csv_file:
        with csv_file.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            for record in reader:
                rows.append((f"line {reader.line_num}", dict(record)))
    else:
        rows.append(("form", {"full_name": name or "", "email": email or "",
                              "organization": organization or "", "country": country or "",
                              "telephone": telephone, "stakeholder_type": stakeholder_type,
                              "proposal": proposal or ""}))
    refused = 0
    for where, data in rows:
        data = {("full_name" if k == "name" else k): v for k, v in data.items()}
        try:
            form = OcpForm.model_validate(data)
            receipt = asyncio.run(submit_ocp(process_id, form, get_engine(), get_settings()))
        except ValidationError as exc:
            refused += 1
            reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            typer.echo(f"{where}: refused: {reasons}", err=True)
            continue
        except Refused as exc:
            refused += 1
            typer.echo(f"{where}: refused: {exc}", err=True)
            continue
        ack = "acknowledged" if receipt.acknowledged else "acknowledgement queued (mail server down)"
        typer.echo(f"{where}: submission {receipt.submission_id} recorded, {ack}")
    if refused:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
