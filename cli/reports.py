"""Figures from the database: nominations by stakeholder type, and the results."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import Contest, Cycle, fail
from models import ids
from models.text import printable

commands = typer.Typer(no_args_is_help=True, help="Reports from the database.")


@commands.command("nominations")
def report_nominations(
    cycle: Cycle,
    contest: Contest = ids.PRIZES_SLUG,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output")] = False,
) -> None:
    """Nominated projects by stakeholder type, with counts and percentages (one decimal)."""
    from core.db import get_engine
    from reports.prizes import nominations

    process_id = ids.contest_id(cycle, contest)
    found = nominations(process_id, get_engine())
    if as_csv:
        typer.echo("stakeholder_type,count,percent")
        for row in found.rows:
            typer.echo(printable(f"{row.label},{row.count},{row.percent}"))
        typer.echo(f"Total,{found.total},100.0")
        return
    typer.echo(f"Nominated projects of {process_id}: {found.total}")
    for row in found.rows:
        typer.echo(printable(f"  {row.label:<28} {row.count:>6}  {row.percent:>5}%"))


@commands.command("results")
def report_results(
    cycle: Cycle,
    contest: Contest = ids.PRIZES_SLUG,
    before_ceremony: Annotated[
        bool,
        typer.Option(
            "--before-ceremony", help="Show vote counts although the results are still embargoed"
        ),
    ] = False,
) -> None:
    """Votes per project, shortlist, winners and Champions per category."""
    from core.db import get_engine
    from reports.prizes import results, results_are_public

    process_id = ids.contest_id(cycle, contest)
    if not before_ceremony and not results_are_public(process_id, get_engine()):
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
        typer.echo(f"\n{printable(cat.code)}")
        for p in cat.projects:
            mark = "WINNER" if p.winner else ("Champion" if p.shortlisted else "")
            # Stored text is shown escaped: rows stored before intake cleaned text may
            # still hold terminal escape sequences.
            typer.echo(
                printable(
                    f"  {p.votes if p.votes is not None else '-':>6}  {mark:<8} "
                    f"#{p.id} {p.title} ({p.organization}, {p.country})"
                )
            )
