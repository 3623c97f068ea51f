"""Change a running cycle: deadlines, meetings, the ceremony, the Forum, cancellation.

Each change is a Temporal update with a validator: a refused change leaves nothing behind,
an accepted one is in the workflow history with who asked and why.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import (
    INVALID,
    REFUSED,
    Contest,
    Cycle,
    fail,
    identifier,
    iso_utc,
    no_address,
    validated,
)
from models import ids

if TYPE_CHECKING:
    from services import changes

commands = typer.Typer()

By = Annotated[
    str,
    typer.Option("--by", help="Role or staff id asking (no e-mail address)", callback=no_address),
]
Reason = Annotated[
    str,
    typer.Option(help="Why (internal: the audit log and the workflow history; never mailed)"),
]
Notice = Annotated[
    list[str] | None,
    typer.Option(
        "--notice",
        help="What participants read, LANG=TEXT (repeat per language; English is required "
        "and is what a language without its own reads)",
    ),
]
NoticeFile = Annotated[
    Path | None,
    typer.Option("--notice-file", help='The notice as TOML: en = "…", fr = "…"'),
]


def _notice(pairs: list[str] | None, file: Path | None) -> dict[str, str]:
    """The public notice; prints which languages will read it in English."""
    from services import changes

    found = changes.notices(pairs, file)
    if fallback := changes.fallback_languages(found):
        typer.echo(f"notice in {', '.join(found)}; in English for {', '.join(fallback)}")
    return found


def _checked(kind: Any, value: str | None, option: str) -> str | None:
    """``value`` by the cycle file's rules for the field (a venue, a link), or exit 2."""
    if value is None:
        return None
    from pydantic import TypeAdapter, ValidationError

    try:
        checked: str = TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        why = "; ".join(str(e.get("ctx", {}).get("error", e["msg"])) for e in exc.errors())
        raise fail(f"{option}: {why}", INVALID) from None
    return checked


def _outcome_lines(outcome: changes.Outcome) -> list[str]:
    """What the secretariat reads of one process's answer."""
    from mail.compose import local_time

    wid = outcome.workflow_id
    if outcome.refused is not None:
        return [f"{wid}: {outcome.refused}"]
    if outcome.pending is not None:
        running = outcome.pending.running or "the step under way"
        if not outcome.pending.pending_changes:  # applied; its notice waits for the mail
            return [
                f"{wid}: accepted and applied; its notice follows the mail under way: {running}",
                "  (see `starter.py status`)",
            ]
        return [
            f"{wid}: accepted; it is applied once this step ends: {running}",
            "  (a cancel stops that step's campaign first; see `starter.py status`)",
        ]
    status = outcome.status
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
    import asyncio

    from services import changes

    outcomes = asyncio.run(changes.send(targets, update, change, cycle=cycle))
    for outcome in outcomes:
        for line in _outcome_lines(outcome):
            typer.echo(line, err=not outcome.accepted)
    if not all(o.accepted for o in outcomes):
        raise typer.Exit(REFUSED)


@commands.command("change-deadline")
def change_deadline(
    cycle: Cycle,
    to: Annotated[str, typer.Option(help="New deadline, ISO 8601 with offset")],
    by: By,
    reason: Reason,
    notice: Notice = None,
    notice_file: NoticeFile = None,
    process: Annotated[
        str, typer.Option(help="ocp, prizes or a contest slug", callback=identifier)
    ] = "ocp",
    deadline: Annotated[
        str, typer.Option(help="submissions, or voting (its close)")
    ] = "submissions",
) -> None:
    """Extend or bring forward a deadline; intake and reminders follow at once."""
    from models.wire import DeadlineChange
    from workflows.process import ProcessWorkflow

    change = validated(
        DeadlineChange,
        {"new": "--to"},
        deadline=deadline,
        new=to,
        requested_by=by,
        reason=reason,
        notice=_notice(notice, notice_file),
    )
    _send([ids.process_id(cycle, process)], ProcessWorkflow.change_deadline, change)


@commands.command("move-meeting")
def move_meeting(
    cycle: Cycle,
    meeting: Annotated[str, typer.Option(help="The meeting's key in the cycle file")],
    by: By,
    reason: Reason,
    notice: Notice = None,
    notice_file: NoticeFile = None,
    starts: Annotated[str | None, typer.Option(help="New start, ISO 8601 with offset")] = None,
    ends: Annotated[str | None, typer.Option(help="New end (default: same length)")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of the meeting")] = None,
    venue: str | None = None,
    remote_url: str | None = None,
    virtual_only: Annotated[bool | None, typer.Option("--virtual-only/--in-person")] = None,
) -> None:
    """Move an OCP meeting or change its venue, link or format; invitees get an updated .ics."""
    from models.cycle_fields import Venue, WebLink
    from models.wire import MeetingChange
    from workflows.ocp import OcpWorkflow

    change = validated(
        MeetingChange,
        {"starts": "--starts", "ends": "--ends"},
        meeting=meeting,
        requested_by=by,
        reason=reason,
        notice=_notice(notice, notice_file),
        starts=starts,
        ends=ends,
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
    notice: Notice = None,
    notice_file: NoticeFile = None,
    contest: Contest = ids.PRIZES_SLUG,
) -> None:
    """Move the WSIS Prize Ceremony of one contest (move-forum moves every one with it)."""
    from models.wire import CeremonyChange
    from workflows.prizes import PrizeContestWorkflow

    change = validated(
        CeremonyChange,
        {"at": "--to"},
        at=to,
        requested_by=by,
        reason=reason,
        notice=_notice(notice, notice_file),
    )
    _send([ids.contest_id(cycle, contest)], PrizeContestWorkflow.move_ceremony, change)


@commands.command("move-selection")
def move_selection(
    cycle: Cycle,
    to: Annotated[str, typer.Option(help="New end of phase IV, ISO 8601 with offset")],
    by: By,
    reason: Reason,
    contest: Contest = ids.PRIZES_SLUG,
) -> None:
    """Move the end of phase IV (the Expert Group's selection, the Champions' announcement);
    the experts' reminders are planned again from it. Nobody else is mailed."""
    from models.wire import SelectionChange
    from workflows.prizes import PrizeContestWorkflow

    change = validated(SelectionChange, {"ends": "--to"}, ends=to, requested_by=by, reason=reason)
    _send([ids.contest_id(cycle, contest)], PrizeContestWorkflow.move_selection, change)


@commands.command("move-forum")
def move_forum(
    cycle: Cycle,
    starts: Annotated[str, typer.Option(help="The Forum's new start, ISO 8601 with offset")],
    ends: Annotated[str, typer.Option(help="The Forum's new end, ISO 8601 with offset")],
    by: By,
    reason: Reason,
    notice: Notice = None,
    notice_file: NoticeFile = None,
) -> None:
    """Move the Forum: the OCP's final brief and every ceremony move with it, checked
    together first; each process tells its participants once."""
    import asyncio

    from models.wire import ForumMove
    from services import changes

    move = validated(
        ForumMove,
        {"starts": "--starts", "ends": "--ends"},
        starts=starts,
        ends=ends,
        requested_by=by,
        reason=reason,
        notice=_notice(notice, notice_file),
    )

    told = asyncio.run(changes.move_forum(cycle, move))
    typer.echo(f"{ids.cycle_id(cycle)}: the Forum moves to {move.starts.isoformat()}")
    for wid in told:
        typer.echo(f"  {wid}: moved with it; its participants are told")


@commands.command()
def cancel(
    cycle: Cycle,
    by: By,
    reason: Reason,
    notice: Notice = None,
    notice_file: NoticeFile = None,
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
    from models.wire import Cancellation
    from workflows.process import ProcessWorkflow

    change = validated(
        Cancellation,
        requested_by=by,
        reason=reason,
        notice=_notice(notice, notice_file),
        notify=notify,
    )
    targets = [ids.process_id(cycle, p) for p in process] if process else None
    _send(targets, ProcessWorkflow.cancel, change, cycle=cycle)
