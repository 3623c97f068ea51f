"""The Expert Group's choices in phase IV, recorded as validated workflow updates."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import Contest, Cycle, connect, fail, no_address, refusal, validated
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

    from temporalio.client import WorkflowUpdateFailedError

    from models.wire import WinnerSelection
    from workflows.prizes import PrizeContestWorkflow

    selection = validated(WinnerSelection, category=category, project_ids=project, requested_by=by)

    async def go() -> list[int]:
        handle = (await connect()).get_workflow_handle(ids.contest_id(cycle, contest))
        return await handle.execute_update(PrizeContestWorkflow.select_winner, selection)

    try:
        chosen = asyncio.run(go())
    except WorkflowUpdateFailedError as exc:
        raise fail(f"refused: {refusal(exc)}") from None
    typer.echo(f"{category}: winner {', '.join(map(str, chosen))} recorded")
