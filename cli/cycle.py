"""Check a cycle file, start the cycle it describes, follow it while it runs.

A thin front over ``services.cycles``: the console calls the same operations.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from cli.common import Cycle, iso_utc, lazy
from cli.staff import operator
from models.phases import OCP_PHASES, PRIZE_PHASES

if TYPE_CHECKING:
    from models.cycle import CycleConfig
    from models.wire import ProcessStatus
    from services.cycles import ProcessReport, start_cycle
else:  # tests and the demo start a cycle through ``cli.cycle.start_cycle``
    start_cycle = lazy("services.cycles", "start_cycle")

__all__ = ["commands", "start_cycle"]

commands = typer.Typer()


def load(path: Path) -> CycleConfig:
    """The cycle file at ``path`` (as ``services.cycles.load``; the CLI prints its problems),
    read without loading the engine unless the file is refused."""
    from models.cycle_file import ConfigError, load_cycle

    try:
        return load_cycle(path)
    except ConfigError as exc:
        from services.cycles import CycleFileRefused

        raise CycleFileRefused(exc.source, list(exc.problems)) from None


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


@commands.command()
def start(
    file: Path,
    skip_past: Annotated[
        bool,
        typer.Option(
            "--skip-past",
            help="Start a cycle whose first actions are past: their state applies (windows "
            "open or closed) but none of their messages is sent",
        ),
    ] = False,
    preview: Annotated[
        bool,
        typer.Option(
            "--preview",
            help="Print every action, local and UTC, and whom it reaches; start nothing",
        ),
    ] = False,
) -> None:
    """Start the cycle described in FILE: the OCP and every contest (refused if it runs, or
    if any of its actions is already past, unless --skip-past)."""
    import asyncio

    from services import cycles

    cycle = load(file)
    if preview:
        for line in preview_lines(cycle):
            typer.echo(line)
        return
    try:
        typer.echo(asyncio.run(cycles.start(cycle, skip_past=skip_past, actor=operator())))
    except cycles.AlreadyRunning as exc:  # said as before: on standard output, exit 1
        typer.echo(exc.message)
        raise typer.Exit(exc.status) from None


def preview_lines(cycle: CycleConfig) -> list[str]:
    """The calendar of ``cycle``: every action with its local and UTC time and its reach."""
    from services import cycles

    seen = cycles.preview(cycle)
    lines = [f"{cycle.cycle_id}: {len(seen.actions)} actions; the community: {seen.community}"]
    for action, people in seen.actions:
        past = "  PAST" if action in seen.past else ""
        reach = f"{people} people" if action.audiences else "no message"
        lines.append(
            f"  {action.at.astimezone(ZoneInfo(action.timezone)).isoformat():<27} "
            f"{iso_utc(action.at)}  {action.process_id}{past}"
        )
        lines.append(f"      {action.summary} [{reach}]")
    if seen.past:
        lines.append(cycles.past_refusal(seen.past))
    return lines


def _report_lines(report: ProcessReport, cycle_id: str) -> list[str]:
    lines = [f"\n{report.workflow_id}  [{report.state}]"]
    if report.workflow_id == cycle_id:
        return [*lines, f"  {report.phase}: the parent of the processes below"]
    if not report.worker_answering:
        lines.append("  (no worker is answering: showing search attributes only)")
    if report.status is None:
        return [*lines, f"  phase: {report.phase}   next deadline: {report.next_deadline}"]
    lines += _process_lines(report.status)
    lines.append("  counts: " + ", ".join(f"{k} {v}" for k, v in report.counts.items()))
    if (found := report.votes) is not None:
        lines.append(f"  votes: {found.total} ({found.voided} voided)")
        if found.by_day:
            lines.append(
                "    per day:      " + ", ".join(f"{d} {n}" for d, n in found.by_day.items())
            )
        if found.by_category:
            lines.append(
                "    per category: " + ", ".join(f"{c} {n}" for c, n in found.by_category.items())
            )
    return lines


def _process_lines(status: ProcessStatus) -> list[str]:
    from mail.compose import local_time

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
    import asyncio

    from core.log import configure_logging
    from services import cycles

    configure_logging()
    reports = asyncio.run(cycles.status(cycle))
    cycle_id = reports[0].workflow_id if reports else cycle
    typer.echo(cycle_id)
    for report in reports:
        for line in _report_lines(report, cycle_id):
            typer.echo(line)


@commands.command("next-cycle")
def next_cycle(
    file: Path,
    year: Annotated[int, typer.Option(help="The new cycle's year", min=1900, max=9999)],
    out: Annotated[Path, typer.Option("-o", "--out", help="Where to write the new file")],
) -> None:
    """Write next year's cycle file from FILE: every instant 52 weeks later at the same local
    time and weekday in its own zone, the year and the titles carrying it moved; checked."""
    from services.next_cycle import write_next_cycle

    cycle = write_next_cycle(file, year, out)
    typer.echo(f"{out}: {cycle.cycle_id}: {cycle.display_title} (valid); review it, then start")
