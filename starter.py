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
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from core.db import get_engine, migrate
from core.log import configure_logging
from core.settings import get_settings
from intake.ocp import OcpForm, submit_ocp
from intake.participants import import_participants
from intake.prizes import Ballot, ProjectForm, cast_votes, mark_ineligible, submit_project
from intake.windows import Refused
from mail.compose import local_time
from models.cycle import ConfigError, CycleConfig, load_cycle
from models.phases import OCP_PHASES, PRIZE_PHASES
from models.wire import CycleInput, ProcessStatus
from reports.prizes import nominations, results
from reports.status import counts_for
from workflows.cycle import AnnualCycleWorkflow
from workflows.search_attributes import WSIS_NEXT_DEADLINE, WSIS_PHASE, WSIS_PROCESS, WSIS_YEAR

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
participants_app = typer.Typer(no_args_is_help=True, help="The stakeholder registry.")
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
app.add_typer(participants_app, name="participants")
app.add_typer(db_app, name="db")


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def refusal(exc: Exception) -> str:
    """The validator's own words, without the exception type around them."""
    cause = getattr(exc, "cause", None)
    return str(getattr(cause, "message", None) or cause or exc)


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
    typer.echo(
        f"\nForum: {iso(cycle.forum.starts)} to {iso(cycle.forum.ends)}, {cycle.forum.venue}"
    )


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


async def start_cycle(client: Client, cycle: CycleConfig, task_queue: str) -> str:
    """Start ``wsis-YEAR`` (the OCP and every contest as children); say if it already runs."""
    try:
        await client.start_workflow(
            AnnualCycleWorkflow.run,
            CycleInput(config=cycle),
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
    return f"started {cycle.cycle_id}: " + ", ".join(children)


@app.command()
def start(file: Path) -> None:
    """Start the cycle described in FILE: the OCP and every contest (refused if it runs)."""
    cycle = _load(file)

    async def go() -> str:
        from worker import connect

        settings = get_settings()
        return await start_cycle(await connect(settings), cycle, settings.task_queue)

    message = asyncio.run(go())
    typer.echo(message)
    if "already running" in message:
        raise typer.Exit(1)


def process_ids(cycle: str) -> tuple[str, list[str]]:
    """``2017`` or ``wsis-2017`` -> the cycle id and the ids of its processes."""
    cycle_id = f"wsis-{cycle}" if cycle.isdigit() else cycle
    return cycle_id, [cycle_id, f"{cycle_id}-ocp"]


def contest_id(cycle: str, contest: str) -> str:
    """``2017`` and ``prizes`` -> ``wsis-2017-prizes``; another slug -> ``...-prize-<slug>``."""
    cycle_id, _ = process_ids(cycle)
    return f"{cycle_id}-prizes" if contest == "prizes" else f"{cycle_id}-prize-{contest}"


async def _status(cycle: str) -> list[str]:
    from worker import connect

    client: Client = await connect()
    cycle_id, ids = process_ids(cycle)
    lines = [f"{cycle_id}"]
    found = False
    async for wf in client.list_workflows(f"WorkflowId STARTS_WITH '{cycle_id}-'"):
        if wf.id not in ids:
            ids.append(wf.id)
    ids.sort(key=lambda w: (w != cycle_id, not w.endswith("-ocp"), w))
    for wid in ids:
        handle = client.get_workflow_handle(wid, result_type=ProcessStatus)
        try:
            desc = await handle.describe()
        except RPCError:
            continue
        found = True
        sa: TypedSearchAttributes = desc.typed_search_attributes
        lines.append(f"\n{wid}  [{desc.status.name if desc.status else '?'}]")
        status: ProcessStatus | None = None
        if desc.status == WorkflowExecutionStatus.RUNNING and wid != cycle_id:
            try:
                status = await handle.query(
                    "status", result_type=ProcessStatus, rpc_timeout=timedelta(seconds=5)
                )
            except RPCError:
                lines.append("  (no worker is answering: showing search attributes only)")
        elif desc.status == WorkflowExecutionStatus.COMPLETED and wid != cycle_id:
            status = await handle.result()
        if wid == cycle_id:
            lines.append(f"  {sa.get(WSIS_PHASE)}: the parent of the processes below")
            continue
        if status is None:
            lines.append(
                f"  phase: {sa.get(WSIS_PHASE)}   next deadline: {sa.get(WSIS_NEXT_DEADLINE)}"
            )
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
        rows.append(
            (
                "form",
                {
                    "full_name": name or "",
                    "email": email or "",
                    "organization": organization or "",
                    "country": country or "",
                    "telephone": telephone,
                    "stakeholder_type": stakeholder_type,
                    "proposal": proposal or "",
                },
            )
        )
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
        ack = receipt.acknowledgement.summary
        typer.echo(f"{where}: submission {receipt.submission_id} recorded, {ack}")
    if refused:
        raise typer.Exit(1)


def _refusals(outcomes: list[tuple[str, str | None]]) -> None:
    refused = [(where, why) for where, why in outcomes if why]
    for where, why in outcomes:
        typer.echo(f"{where}: {'refused: ' + why if why else 'accepted'}", err=bool(why))
    if refused:
        raise typer.Exit(1)


def _rows(csv_file: Path) -> list[tuple[str, dict[str, str]]]:
    with csv_file.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        return [(f"line {reader.line_num}", dict(r)) for r in reader]


@app.command("submit-project")
def submit_project_command(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    contest: Annotated[str, typer.Option(help="Contest slug")] = "prizes",
    owner_email: str | None = None,
    owner_name: str | None = None,
    category: str | None = None,
    title: str | None = None,
    description: str | None = None,
    organization: str = "",
    stakeholder_type: str | None = None,
    country: str | None = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="A batch: one project a row")
    ] = None,
) -> None:
    """Submit a project to a contest (phase I) and acknowledge it by email."""
    migrate()
    process_id = contest_id(cycle, contest)
    rows = (
        _rows(csv_file)
        if csv_file
        else [
            (
                "form",
                {
                    "owner_email": owner_email or "",
                    "owner_name": owner_name,
                    "category": category or "",
                    "title": title or "",
                    "description": description or "",
                    "organization": organization,
                    "stakeholder_type": stakeholder_type or "",
                    "country": country or "",
                },
            )
        ]
    )
    outcomes: list[tuple[str, str | None]] = []
    for where, data in rows:
        try:
            form = ProjectForm.model_validate(data)
            receipt = asyncio.run(submit_project(process_id, form, get_engine(), get_settings()))
            ack = receipt.acknowledgement.summary
            outcomes.append((f"{where}: project {receipt.project_id}, {ack}", None))
        except ValidationError as exc:
            outcomes.append(
                (
                    where,
                    "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
                )
            )
        except Refused as exc:
            outcomes.append((where, str(exc)))
    _refusals(outcomes)


@app.command()
def nominate(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    contest: Annotated[str, typer.Option(help="Contest slug")] = "prizes",
    ineligible: Annotated[int | None, typer.Option(help="Project id to mark ineligible")] = None,
    reason: Annotated[str, typer.Option(help="Why (told to no one but the record)")] = "",
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Columns: project_id,reason")
    ] = None,
) -> None:
    """Phase II: mark a submission ineligible, with the reason (or a CSV of them)."""
    process_id = contest_id(cycle, contest)
    rows = (
        _rows(csv_file)
        if csv_file
        else [("project", {"project_id": str(ineligible or ""), "reason": reason})]
    )
    outcomes: list[tuple[str, str | None]] = []
    for where, data in rows:
        try:
            mark_ineligible(
                process_id, int(data["project_id"]), data.get("reason", ""), get_engine()
            )
            outcomes.append((f"{where} {data['project_id']} marked ineligible", None))
        except (Refused, ValueError) as exc:
            outcomes.append((where, str(exc)))
    _refusals(outcomes)


@app.command()
def vote(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    contest: Annotated[str, typer.Option(help="Contest slug")] = "prizes",
    voter: Annotated[str | None, typer.Option(help="The voter's e-mail")] = None,
    category: str | None = None,
    project: int | None = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Columns: voter,category,project")
    ] = None,
) -> None:
    """Phase III: cast a vote (or a CSV batch); one vote per voter per category."""
    process_id = contest_id(cycle, contest)
    rows = (
        _rows(csv_file)
        if csv_file
        else [
            (
                "vote",
                {"voter": voter or "", "category": category or "", "project": str(project or 0)},
            )
        ]
    )
    ballots = [Ballot(d["voter"], d["category"], int(d["project"] or 0)) for _, d in rows]
    try:
        outcomes = cast_votes(process_id, ballots, get_engine())
    except Refused as exc:
        raise fail(str(exc)) from None
    _refusals([(w, o) for (w, _), o in zip(rows, outcomes, strict=True)])


@app.command("select-winner")
def select_winner(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    category: Annotated[str, typer.Option(help="Category code, e.g. C7-e-health")],
    project: Annotated[list[int], typer.Option(help="Winning project id (repeat for several)")],
    contest: Annotated[str, typer.Option(help="Contest slug")] = "prizes",
    by: Annotated[str, typer.Option(help="Who decides (recorded in the history)")] = "expert-group",
) -> None:
    """Phase IV: record the Expert Group's winner of a category, from its shortlist."""
    from temporalio.client import WorkflowUpdateFailedError

    from workflows.prizes import PrizeContestWorkflow, WinnerSelection

    async def go() -> list[int]:
        from worker import connect

        handle = (await connect()).get_workflow_handle(contest_id(cycle, contest))
        return await handle.execute_update(
            PrizeContestWorkflow.select_winner,
            WinnerSelection(category=category, project_ids=project, requested_by=by),
        )

    try:
        chosen = asyncio.run(go())
    except WorkflowUpdateFailedError as exc:
        raise fail(f"refused: {refusal(exc)}") from None
    typer.echo(f"{category}: winner {', '.join(map(str, chosen))} recorded")


def _instant(text: str, option: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (2017-03-01T23:59:59+01:00)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option}: {text!r} is not an ISO 8601 date and time", 2) from None
    if when.tzinfo is None:
        raise fail(f"{option}: {text!r} has no UTC offset; add one, e.g. +01:00 or Z", 2)
    return when


def _process(cycle: str, process: str) -> str:
    """``ocp``, ``prizes`` or a contest slug -> the process's workflow id."""
    cycle_id, _ = process_ids(cycle)
    return f"{cycle_id}-ocp" if process == "ocp" else contest_id(cycle, process)


def _change(workflow_id: str | None, update: str, change: Any, *, cycle: str = "") -> None:
    """Send a change to a running process (every process of ``cycle`` when ``workflow_id`` is
    None); print each refusal (exit 1) or the new plan. One client, one event loop."""
    from temporalio.client import WorkflowUpdateFailedError

    async def go() -> list[tuple[str, ProcessStatus | str]]:
        from worker import connect

        client = await connect()
        targets = (
            [workflow_id]
            if workflow_id
            else await client.get_workflow_handle(process_ids(cycle)[0]).query(
                "processes", result_type=list[str]
            )
        )
        done: list[tuple[str, ProcessStatus | str]] = []
        for wid in targets:
            try:
                done.append(
                    (
                        wid,
                        await client.get_workflow_handle(wid).execute_update(
                            update, change, result_type=ProcessStatus
                        ),
                    )
                )
            except WorkflowUpdateFailedError as exc:
                done.append((wid, f"refused: {refusal(exc)}"))
            except RPCError as exc:
                done.append((wid, f"{exc.message}"))
        return done

    failed = False
    for wid, outcome in asyncio.run(go()):
        if isinstance(outcome, str):
            failed = True
            typer.echo(f"{wid}: {outcome}", err=True)
            continue
        typer.echo(f"{wid}: accepted; now {outcome.phase_name}")
        for step in outcome.upcoming[:6]:
            typer.echo(
                f"  {iso_utc(step.at)}  {local_time(step.at, outcome.timezone)}  {step.summary}"
            )
    if failed:
        raise typer.Exit(1)


By = Annotated[str, typer.Option("--by", help="Role or staff id asking (no e-mail address)")]
Reason = Annotated[str, typer.Option(help="Why; kept in the workflow history")]


@app.command("change-deadline")
def change_deadline(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    to: Annotated[str, typer.Option(help="New deadline, ISO 8601 with offset")],
    by: By,
    reason: Reason,
    process: Annotated[str, typer.Option(help="ocp, prizes or a contest slug")] = "ocp",
    deadline: Annotated[
        str, typer.Option(help="submissions, or voting (its close)")
    ] = "submissions",
) -> None:
    """Extend or bring forward a deadline; intake and reminders follow at once."""
    from models.wire import DeadlineChange

    change = _validated(
        DeadlineChange, deadline=deadline, new=_instant(to, "--to"), requested_by=by, reason=reason
    )
    _change(_process(cycle, process), "change_deadline", change)


@app.command("move-meeting")
def move_meeting(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    meeting: Annotated[str, typer.Option(help="The meeting's key in the cycle file")],
    by: By,
    reason: Reason,
    starts: Annotated[str | None, typer.Option(help="New start, ISO 8601 with offset")] = None,
    ends: Annotated[str | None, typer.Option(help="New end (default: same length)")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of the meeting")] = None,
    venue: str | None = None,
    remote_url: str | None = None,
    virtual_only: Annotated[bool | None, typer.Option("--virtual-only/--in-person")] = None,
) -> None:
    """Move an OCP meeting or change its venue, link or format; invitees get an updated .ics."""
    from models.wire import MeetingChange

    change = _validated(
        MeetingChange,
        meeting=meeting,
        requested_by=by,
        reason=reason,
        starts=_instant(starts, "--starts") if starts else None,
        ends=_instant(ends, "--ends") if ends else None,
        timezone=timezone,
        venue=venue,
        remote_url=remote_url,
        virtual_only=virtual_only,
    )
    _change(_process(cycle, "ocp"), "move_meeting", change)


@app.command("move-ceremony")
def move_ceremony(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    to: Annotated[str, typer.Option(help="New date and time, ISO 8601 with offset")],
    by: By,
    reason: Reason,
    contest: Annotated[str, typer.Option(help="Contest slug")] = "prizes",
) -> None:
    """Move the WSIS Prize Ceremony of a contest (the Forum moved)."""
    from models.wire import CeremonyChange

    change = _validated(CeremonyChange, at=_instant(to, "--to"), requested_by=by, reason=reason)
    _change(contest_id(cycle, contest), "move_ceremony", change)


@app.command()
def cancel(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    by: By,
    reason: Reason,
    process: Annotated[
        list[str] | None,
        typer.Option(
            help="ocp, prizes or a contest slug (repeat); default: every process of the cycle"
        ),
    ] = None,
    notify: Annotated[bool, typer.Option("--notify/--quiet")] = True,
) -> None:
    """Cancel a cycle or some of its processes; participants are told unless --quiet."""
    from models.wire import Cancellation

    change = _validated(Cancellation, requested_by=by, reason=reason, notify=notify)
    for wid in [_process(cycle, p) for p in process] if process else [None]:
        _change(wid, "cancel", change, cycle=cycle)


def _validated(model: Any, **fields: Any) -> Any:
    try:
        return model(**fields)
    except ValidationError as exc:
        raise fail(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()), 2
        ) from None


report_app = typer.Typer(no_args_is_help=True, help="Reports from the database.")
app.add_typer(report_app, name="report")


@report_app.command("nominations")
def report_nominations(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    contest: Annotated[str, typer.Option(help="Contest slug")] = "prizes",
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output")] = False,
) -> None:
    """Nominated projects by stakeholder type, with counts and percentages (one decimal)."""
    found = nominations(contest_id(cycle, contest), get_engine())
    if as_csv:
        typer.echo("stakeholder_type,count,percent")
        for row in found.rows:
            typer.echo(f"{row.label},{row.count},{row.percent}")
        typer.echo(f"Total,{found.total},100.0")
        return
    typer.echo(f"Nominated projects of {contest_id(cycle, contest)}: {found.total}")
    for row in found.rows:
        typer.echo(f"  {row.label:<28} {row.count:>6}  {row.percent:>5}%")


@report_app.command("results")
def report_results(
    cycle: Annotated[str, typer.Argument(help="YEAR or cycle id")],
    contest: Annotated[str, typer.Option(help="Contest slug")] = "prizes",
    before_ceremony: Annotated[
        bool,
        typer.Option(
            "--before-ceremony", help="Show vote counts although the results are still embargoed"
        ),
    ] = False,
) -> None:
    """Votes per project, shortlist, winners and Champions per category."""
    process_id = contest_id(cycle, contest)
    with get_engine().connect() as conn:
        held = conn.execute(
            sa.text("SELECT count(*) FROM campaign WHERE key = :k AND completed_at IS NOT NULL"),
            {"k": f"{process_id}:winners"},
        ).scalar_one()
    if not held and not before_ceremony:
        raise fail(
            f"the results of {process_id} are embargoed until the WSIS Prize Ceremony; "
            f"add --before-ceremony to see them now (the request is yours to justify)"
        )
    found = results(process_id, get_engine())
    if found.sha256:
        typer.echo(
            f"{process_id}: {found.ballots_counted} of {found.ballots_cast} ballots "
            f"counted; sha256 {found.sha256}"
        )
    for cat in found.categories:
        typer.echo(f"\n{cat.code}")
        for p in cat.projects:
            mark = "WINNER" if p.winner else ("Champion" if p.shortlisted else "")
            typer.echo(
                f"  {p.votes if p.votes is not None else '-':>6}  {mark:<8} "
                f"#{p.id} {p.title} ({p.organization}, {p.country})"
            )


def main() -> None:
    """Run the CLI, then leave without interpreter teardown.

    The Temporal client's Rust core keeps threads that can abort CPython's finalization of a
    short-lived process ("PyGILState_Release ... finalizing", temporalio/sdk-python#300): after
    the command has said all it has to say, skip the teardown.
    """
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
