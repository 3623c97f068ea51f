"""Mail that came back: ``starter.py mail bounces`` (and ``mail reenable``)."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import INVALID, fail
from models.text import printable

commands = typer.Typer(no_args_is_help=True, help="Mail that came back: bounces, complaints.")


@commands.command("bounces")
def bounces(
    campaign: Annotated[str | None, typer.Option(help="One campaign's bounces only")] = None,
    addresses: Annotated[
        bool,
        typer.Option(
            "--addresses", help="Print the suspended participants' addresses (personal data)"
        ),
    ] = False,
) -> None:
    """Bounces per campaign (by kind, against the messages sent), the participants whose
    bulk mail is suspended (count and ids; addresses only with --addresses), complaints, and
    what the inbound service received."""
    from core.db import get_engine, migrate
    from mail.inbound.report import bounce_report

    migrate()
    report = bounce_report(get_engine(), campaign=campaign, addresses=addresses)
    typer.echo("bounces per campaign:" if report.per_campaign else "no bounces")
    for key, kinds in sorted(report.per_campaign.items()):
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
        sent = report.sent.get(key)
        typer.echo(printable(f"  {key}: {counts}" + (f" (of {sent} sent)" if sent else "")))
    typer.echo(f"suspended participants: {len(report.suspended)}")
    if report.suspended:
        if addresses:
            for row in report.suspended:
                typer.echo(printable(f"  {row.participant_id}  {row.address}  {row.reason}"))
        else:
            typer.echo("  ids: " + ", ".join(str(s.participant_id) for s in report.suspended))
    typer.echo(f"complaints (unsubscribed by a feedback report): {report.complaints}")
    if report.inbound:
        counts = ", ".join(f"{k} {n}" for k, n in sorted(report.inbound.items()))
        typer.echo(f"inbound messages: {counts}")


@commands.command("reenable")
def reenable(participant_id: int) -> None:
    """Lift the suspension of a participant's bulk mail (their mailbox works again)."""
    from core.db import get_engine, migrate
    from mail.inbound.standing import re_enable

    migrate()
    if not re_enable(get_engine(), participant_id):
        raise fail(f"participant {participant_id} is not suspended", INVALID)
    typer.echo(f"participant {participant_id}: bulk mail re-enabled")
