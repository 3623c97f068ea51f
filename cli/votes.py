"""The secretariat's review of a vote before its tally: counts, suspicious clusters, voiding.

Counts only, never per project, until the ceremony. Voided votes keep their reason in the
database and leave the tally and its ballot hash; the voters are not told which rule caught
them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from cli.common import INVALID, Contest, Cycle, fail, instant
from cli.staff import operator
from models import ids
from models.text import printable
from services.errors import Refused

commands = typer.Typer(no_args_is_help=True, help="Review the votes of a contest before its tally.")


def _span(text: str, option: str) -> timedelta:
    from pydantic import TypeAdapter, ValidationError

    from models.cycle_fields import Duration

    try:
        span: timedelta = TypeAdapter(Duration).validate_python(text)
    except ValidationError:
        raise fail(f"{option}: {text!r} is not a duration such as 10m, 2h or 7d", INVALID) from None
    return span


def count_lines(process_id: str) -> list[str]:
    """Votes per day (UTC) and per category, and how many were voided: counts only."""
    from core.db import get_engine
    from services import votes

    found = votes.counts(get_engine(), process_id)
    lines = [f"  votes: {found.total} ({found.voided} voided)"]
    if found.by_day:
        lines.append("    per day:      " + ", ".join(f"{d} {n}" for d, n in found.by_day.items()))
    if found.by_category:
        lines.append(
            "    per category: " + ", ".join(f"{c} {n}" for c, n in found.by_category.items())
        )
    return lines


@commands.command("counts")
def counts(cycle: Cycle, contest: Contest = ids.PRIZES_SLUG) -> None:
    """Votes so far, per day and per category (no count per project before the tally)."""
    for line in count_lines(ids.contest_id(cycle, contest)):
        typer.echo(line)


@commands.command("clusters")
def clusters(
    cycle: Cycle,
    contest: Contest = ids.PRIZES_SLUG,
    within: Annotated[str, typer.Option(help="Span of a cluster")] = "10m",
    min_voters: Annotated[int, typer.Option(min=2, max=10**6, help="Votes in a cluster")] = 10,
    new_within: Annotated[str, typer.Option(help="An account this new is 'new'")] = "7d",
) -> None:
    """Many new accounts voting alike from one network within minutes (evidence for the
    review, not a verdict); void them with `votes void --network N --from T --to T`."""
    from core.db import get_engine
    from services import votes

    process_id = ids.contest_id(cycle, contest)
    found = votes.clusters(
        get_engine(), process_id, within=_span(within, "--within"), min_voters=min_voters,
        new_within=_span(new_within, "--new-within"),
    )  # fmt: skip
    if not found:
        typer.echo(f"{process_id}: no cluster of {min_voters} new accounts within {within}")
        return
    for c in found:
        first, last = c.first.isoformat(timespec="seconds"), c.last.isoformat(timespec="seconds")
        typer.echo(
            f"{c.network}  {c.category}  project {c.project_id}  {c.voters} votes  "
            f"from {first} to {last}"
        )


@commands.command("void")
def void(
    cycle: Cycle,
    reason: Annotated[str, typer.Option(help="Why (kept with each vote; the voters are not told)")],
    network: Annotated[str, typer.Option(help="The network, e.g. 203.0.113.0/24")],
    contest: Contest = ids.PRIZES_SLUG,
    since: Annotated[
        str | None, typer.Option("--from", help="ISO 8601 instant, with offset")
    ] = None,
    until: Annotated[str | None, typer.Option("--to", help="ISO 8601 instant, with offset")] = None,
    project: Annotated[
        int | None, typer.Option(min=1, max=2**63 - 1, help="Only this project")
    ] = None,
) -> None:
    """Void the votes from a network (in a time span, for a project) before the tally."""
    from core.db import get_engine
    from services import votes

    process_id = ids.contest_id(cycle, contest)
    try:
        done = votes.void(
            get_engine(), process_id, reason=reason, network=network, actor=operator(),
            since=instant(since, "--from") if since else None,
            until=instant(until, "--to") if until else None, project_id=project,
        )  # fmt: skip
    except Refused as exc:
        raise fail(printable(exc.message), exc.status) from None
    typer.echo(f"{process_id}: {done.count} vote(s) voided")
    typer.echo(f"  valid votes' SHA-256: {done.before} -> {done.after}")
