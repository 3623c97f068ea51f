"""Staff accounts: grant and revoke a role (a secretariat does the same in the console)."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from models.text import printable

commands = typer.Typer(no_args_is_help=True, help="Staff accounts and their roles.")

Role = Annotated[str, typer.Option(help="secretariat, expert or expert-lead")]


def operator() -> str:
    """How the audit log names the CLI's operator: the system account, never an address."""
    return f"cli:{getpass.getuser()}"


@commands.command("add")
def add(
    address: str,
    role: Role,
    name: Annotated[str, typer.Option(help="Their name, as the console shows it")] = "",
) -> None:
    """Grant ROLE to ADDRESS (or change their role); they sign in at /staff/ with the
    e-mailed link and an authenticator app, enrolled at their first sign-in."""
    from services import staff
    from services.database import ready_engine

    member = staff.add(ready_engine(), address, role, actor=operator(), name=name)
    typer.echo(printable(f"staff:{member.id} is {member.role}; sign in at /staff/"))


@commands.command("remove")
def remove(address: str) -> None:
    """Revoke ADDRESS's staff account; its sessions end at once."""
    from services import staff
    from services.database import ready_engine

    staff.remove(ready_engine(), address, actor=operator())
    typer.echo("removed; their sessions have ended")


@commands.command("reset-second-factor")
def reset_second_factor(address: str) -> None:
    """Forget ADDRESS's authenticator (lost, or unreadable after the portal's secret changed):
    their sessions end, and they enrol a new one at their next sign-in at /staff/."""
    from services import staff
    from services.database import ready_engine

    member = staff.reset_second_factor(ready_engine(), address, actor=operator())
    typer.echo(f"{member.actor}: second factor forgotten; they enrol a new one at /staff/")


@commands.command("list")
def list_staff() -> None:
    """Every staff account: id, role, whether the second factor is enrolled."""
    from services import staff
    from services.database import ready_engine

    for member in staff.members(ready_engine()):
        enrolled = "enrolled" if member.enrolled else "second factor not yet enrolled"
        typer.echo(printable(f"staff:{member.id}  {member.role:<12} {member.email}  {enrolled}"))
