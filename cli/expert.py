"""The Expert Group's choices in phase IV, recorded as validated workflow updates."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import Contest, Cycle, no_address, validated
from models import ids

commands = typer.Typer()


@commands.command("select-winner")
def select_winner(
    cycle: Cycle,
    category: Annotated[str, typer.Option(help="Category code, e.g. C7-e-health")],
    project: Annotated[
        list[int],
        typer.Option(min=1, max=2**63 - 1, help="Winning project id (repeat for several)"),
    ],
    contest: Contest = ids.PRIZES_SLUG,
    by: Annotated[
        str, typer.Option(help="Who decides (recorded in the history)", callback=no_address)
    ] = "expert-group",
) -> None:
    """Phase IV: record the Expert Group's winner of a category, from its shortlist."""
    import asyncio

    from models.wire import WinnerSelection
    from services.database import ready_engine
    from services.decision import record_winner

    selection = validated(WinnerSelection, category=category, project_ids=project, requested_by=by)
    process_id = ids.contest_id(cycle, contest)
    chosen = asyncio.run(record_winner(ready_engine(), process_id, selection))
    typer.echo(f"{category}: winner {', '.join(map(str, chosen))} recorded")
