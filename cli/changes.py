"""Change a running cycle: deadlines, meetings, the ceremony, the Forum, cancellation.

Each change is a Temporal update with a validator: a refused change leaves nothing behind,
an accepted one is in the workflow history with who asked and why.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel, TypeAdapter, ValidationError
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.service import RPCError

from cli.common import (
    INVALID,
    REFUSED,
    Contest,
    Cycle,
    connect,
    fail,
    identifier,
    instant,
    iso_utc,
    no_address,
    refusal,
    validated,
)
from mail.compose import local_time
from models import ids
from models.cycle import Venue, WebLink
from models.moves import forum_moved
from models.wire import (
    Cancellation,
    CeremonyChange,
    DeadlineChange,
    ForumMove,
    MeetingChange,
    ProcessStatus,
)
from workflows.cycle import AnnualCycleWorkflow
from workflows.ocp import OcpWorkflow
from workflows.prizes import PrizeContestWorkflow
from workflows.process import ProcessWorkflow

commands = typer.Typer()

By = Annotated[
    str,
    typer.Option("--by", help="Role or staff id asking (no e-mail address)", callback=no_address),
]
Reason = Annotated[str, typer.Option(help="Why; kept in the workflow history")]


def _checked(kind: Any, value: str | None, option: str) -> str | None:
    """``value`` by the cycle file's rules for the field (a venue, a link), or exit 2."""
    if value is None:
        return None
    try:
        checked: str = TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        why = "; ".join(str(e.get("ctx", {}).get("error", e["msg"])) for e in exc.errors())
        raise fail(f"{option}: {why}", INVALID) from None
    return checked


# How long a change command waits for an accepted change to be applied before it says what
# happens next and returns (a change queued behind a running campaign may wait for hours).
APPLIED_WITHIN = 3.0


class ChangeOutcome(BaseModel):
    """What became of one change sent to one process (for the CLI and the console)."""

    workflow_id: str
    accepted: bool
    applied: ProcessStatus | None = None  # the new plan, once applied
    pending: ProcessStatus | None = None  # accepted, queued behind the running step
    refusal: str | None = None
    error: str | None = None  # the process could not be reached

    @property
    def failed(self) -> bool:
        return self.refusal is not None or self.error is not None


async def submit_change(
    client: Client, workflow_id: str, update: Any, change: Any, *, within: float = APPLIED_WITHIN
) -> ChangeOutcome:
    """Send ``change`` to one process and return as soon as it is accepted (its validator
    passed): applied within ``within`` seconds, or else pending behind the step under way,
    with the process's status saying which. Never waits behind a running campaign."""
    try:
        handle = await client.get_workflow_handle(workflow_id).start_update(
            update, change, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
    except WorkflowUpdateFailedError as exc:
        return ChangeOutcome(workflow_id=workflow_id, accepted=False, refusal=refusal(exc))
    except RPCError as exc:
        return ChangeOutcome(workflow_id=workflow_id, accepted=False, error=exc.message)
    try:
        status = await asyncio.wait_for(asyncio.shield(handle.result()), within)
    except TimeoutError:
        pending = await client.get_workflow_handle(workflow_id).query(ProcessWorkflow.status)
        return ChangeOutcome(workflow_id=workflow_id, accepted=True, pending=pending)
    except WorkflowUpdateFailedError as exc:  # refused once it held the lock
        return ChangeOutcome(workflow_id=workflow_id, accepted=True, refusal=refusal(exc))
    return ChangeOutcome(workflow_id=workflow_id, accepted=True, applied=status)


def _outcome_lines(outcome: ChangeOutcome) -> list[str]:
    wid = outcome.workflow_id
    if outcome.error is not None:
        return [f"{wid}: {outcome.error}"]
    if outcome.refusal is not None:
        return [f"{wid}: refused: {outcome.refusal}"]
    if outcome.pending is not None:
        running = outcome.pending.running or "the step under way"
        return [
            f"{wid}: accepted; it is applied once this step ends: {running}",
            "  (a cancel stops that step's campaign first; see `starter.py status`)",
        ]
    status = outcome.applied
    assert status is not None
    lines = [f"{wid}: accepted; now {status.phase_name}"]
    for step in status.upcoming[:6]:
        lines.append(
            f"  {iso_utc(step.at)}  {local_time(step.at, status.timezone)}  {step.summary}"
        )
    return lines


def _send(targets: list[str] | None, update: Any, change: Any, *, cycle: str = "") -> None:
    """Send ``update`` to each process in ``targets`` (every process of ``cycle`` when None);
    print each refusal (exit 1), the new plan, or what the change waits for. One client."""

    async def go() -> list[ChangeOutcome]:
        client = await connect()
        wids = targets
        if wids is None:
            cycle_handle = client.get_workflow_handle(ids.cycle_id(cycle))
            wids = await cycle_handle.query(AnnualCycleWorkflow.processes)
        return [await submit_change(client, wid, update, change) for wid in wids]

    outcomes = asyncio.run(go())
    for outcome in outcomes:
        for line in _outcome_lines(outcome):
            typer.echo(line, err=outcome.failed)
    if any(o.failed for o in outcomes):
        raise typer.Exit(REFUSED)


@commands.command("change-deadline")
def change_deadline(
    cycle: Cycle,
    to: Annotated[str, typer.Option(help="New deadline, ISO 8601 with offset")],
    by: By,
    reason: Reason,
    process: Annotated[
        str, typer.Option(help="ocp, prizes or a contest slug", callback=identifier)
    ] = "ocp",
    deadline: Annotated[
        str, typer.Option(help="submissions, or voting (its close)")
    ] = "submissions",
) -> None:
    """Extend or bring forward a deadline; intake and reminders follow at once."""
    change = validated(
        DeadlineChange, deadline=deadline, new=instant(to, "--to"), requested_by=by, reason=reason
    )
    _send([ids.process_id(cycle, process)], ProcessWorkflow.change_deadline, change)


@commands.command("move-meeting")
def move_meeting(
    cycle: Cycle,
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
    change = validated(
        MeetingChange,
        meeting=meeting,
        requested_by=by,
        reason=reason,
        starts=instant(starts, "--starts") if starts else None,
        ends=instant(ends, "--ends") if ends else None,
        timezone=timezone,
        venue=_checked(Venue, venue, "--venue"),
        remote_url=_checked(WebLink, remote_url, "--remote-url"),
        virtual_only=virtual_only,
    )
    _send([ids.ocp_id(cycle)], OcpWorkflow.move_meeting, change)


@commands.command("move-ceremony")
def move_ceremony(
    cycle: Cycle,
    to: Annotated[str, typer.Option(help="New date and time, ISO 8601 with offset")],
    by: By,
    reason: Reason,
    contest: Contest = ids.PRIZES_SLUG,
) -> None:
    """Move the WSIS Prize Ceremony of one contest (move-forum moves every one with it)."""
    change = validated(CeremonyChange, at=instant(to, "--to"), requested_by=by, reason=reason)
    _send([ids.contest_id(cycle, contest)], PrizeContestWorkflow.move_ceremony, change)


@commands.command("move-forum")
def move_forum(
    cycle: Cycle,
    starts: Annotated[str, typer.Option(help="The Forum's new start, ISO 8601 with offset")],
    ends: Annotated[str, typer.Option(help="The Forum's new end, ISO 8601 with offset")],
    by: By,
    reason: Reason,
) -> None:
    """Move the Forum: the OCP's final brief and every ceremony move with it, checked
    together first; each process tells its participants once."""
    move = validated(
        ForumMove,
        starts=instant(starts, "--starts"),
        ends=instant(ends, "--ends"),
        requested_by=by,
        reason=reason,
    )

    async def go() -> dict[str, str]:
        handle = (await connect()).get_workflow_handle(ids.cycle_id(cycle))
        plan = await handle.query(AnnualCycleWorkflow.plan)
        moved = forum_moved(plan, move.starts, move.ends, datetime.now(UTC))
        return await handle.execute_update(
            AnnualCycleWorkflow.move_forum, move.model_copy(update={"moved": moved})
        )

    try:
        told = asyncio.run(go())
    except WorkflowUpdateFailedError as exc:
        raise fail(f"{ids.cycle_id(cycle)}: refused: {refusal(exc)}") from None
    except RPCError as exc:
        raise fail(f"{ids.cycle_id(cycle)}: {exc.message}") from None
    typer.echo(f"{ids.cycle_id(cycle)}: the Forum moves to {move.starts.isoformat()}")
    for wid in told:
        typer.echo(f"  {wid}: moved with it; its participants are told")


@commands.command()
def cancel(
    cycle: Cycle,
    by: By,
    reason: Reason,
    process: Annotated[
        list[str] | None,
        typer.Option(
            help="ocp, prizes or a contest slug (repeat); default: every process of the cycle",
            callback=identifier,
        ),
    ] = None,
    notify: Annotated[bool, typer.Option("--notify/--quiet")] = True,
) -> None:
    """Cancel a cycle or some of its processes; participants are told unless --quiet.

    This is the cancel to use: it says who and why. Temporal's own Cancel (the Web UI's
    button, ``temporal workflow cancel``) ends a process just as cleanly; Terminate does not
    (windows stay open until their deadlines and nobody is told)."""
    change = validated(Cancellation, requested_by=by, reason=reason, notify=notify)
    targets = [ids.process_id(cycle, p) for p in process] if process else None
    _send(targets, ProcessWorkflow.cancel, change, cycle=cycle)
