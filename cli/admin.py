"""The stakeholder registry and the database schema."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import INVALID, REFUSED, fail
from core.db import get_engine, migrate
from intake.participants import import_participants

participants = typer.Typer(no_args_is_help=True, help="The stakeholder registry.")
db = typer.Typer(no_args_is_help=True, help="The database schema.")


@participants.command("import")
def participants_import(file: Path) -> None:
    """Load the stakeholder registry from CSV (name, email, organization, country,
    stakeholder_type, language). Invalid rows are listed; valid rows are kept."""
    migrate()
    try:
        report = import_participants(
            file, get_engine(), progress=lambda n: typer.echo(f"  {n} rows imported...", err=True)
        )
    except (OSError, ValueError) as exc:
        raise fail(str(exc), INVALID) from None
    typer.echo(f"{report.created} created, {report.updated} updated, {len(report.errors)} refused")
    for line, reason in report.errors:
        typer.echo(f"  line {line}: {reason}", err=True)
    if report.errors:
        raise typer.Exit(INVALID if not report.accepted else REFUSED)


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    migrate()
    typer.echo("database is up to date")
