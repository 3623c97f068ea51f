"""The stakeholder registry and the database schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import INVALID, fail
from models.text import printable

participants = typer.Typer(no_args_is_help=True, help="The stakeholder registry.")
db = typer.Typer(no_args_is_help=True, help="The database schema.")


@participants.command("import")
def participants_import(
    file: Path,
    verified: Annotated[
        bool,
        typer.Option(
            "--verified",
            help="The secretariat vouches for every imported participant: they are "
            "verified without an e-mailed sign-in (a 'verified' column does it row by row)",
        ),
    ] = False,
) -> None:
    """Load the stakeholder registry from CSV (name, email, organization, country,
    stakeholder_type, language, verified). Every bad line is listed with its line number and
    reason; every good line is kept. Exit status 2 if any line was refused."""
    from core.db import get_engine, migrate
    from core.files import FileRefused
    from intake.participants import import_participants

    migrate()
    try:
        report = import_participants(
            file,
            get_engine(),
            verified=verified,
            progress=lambda n: typer.echo(f"  {n} rows imported...", err=True),
        )
    except FileRefused as exc:
        raise fail(f"{exc}; nothing was imported", INVALID) from None
    vouched = f", {report.verified} verified" if report.verified else ""
    typer.echo(
        f"{report.created} created, {report.updated} updated{vouched}, {len(report.errors)} refused"
    )
    for line, reason in report.errors:
        typer.echo(printable(f"  line {line}: {reason}"), err=True)
    if report.errors:
        raise typer.Exit(INVALID)


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    from core.db import migrate

    migrate()
    typer.echo("database is up to date")
