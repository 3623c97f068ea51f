"""The ``starter.py`` command line, assembled from one module per audience."""

# Commands import the engine in their bodies: one starts (or --help) in ~0.4 s, not ~2.5 s.

from __future__ import annotations

import logging
import os
import sys
import traceback

import typer

from cli import admin, changes, cycle, expert, export, intake, reports, staff, votes
from cli import mail as mail_cli
from models.text import printable
from services.errors import Refused

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The secretariat's command line: check and start a cycle, change it while it runs, "
    "take submissions and votes, record the Expert Group's choices, print reports.\n\n"
    "Exit status: 0 done, 1 refused by a rule or failed (the message says why), "
    "2 invalid input.",
)
for audience in (cycle, changes, intake, expert, export):
    app.add_typer(audience.commands)
app.add_typer(reports.commands, name="report")
app.add_typer(votes.commands, name="votes")
app.add_typer(admin.participants, name="participants")
app.add_typer(admin.db, name="db")
app.add_typer(staff.commands, name="staff")
app.add_typer(mail_cli.commands, name="mail")


def run(args: list[str] | None = None) -> int:
    """Run one command and return its exit status; every refusal is one line on stderr.

    Usage errors (an unknown option, a value out of range) come out as one line instead of
    the framework's boxed panel, and an unexpected error as one line naming it rather than a
    traceback (``WSIS_DEBUG=1`` shows the traceback).
    """
    try:
        status = app(args=args, prog_name="starter.py", standalone_mode=False)
    except typer.TyperException as exc:  # usage errors: exit status 2
        message = exc.format_message()
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "starter.py"
        if "\n" in message:  # no arguments: the help text itself
            typer.echo(message, err=True)
        else:
            typer.echo(printable(f"{where}: {message} (see {where} --help)"), err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 1
    except Refused as exc:  # an operation's refusal: its one line (a cycle file: each problem)
        typer.echo(printable(exc.message), err=True)
        problems = _problems(exc)
        if len(problems) > 1:
            for problem in problems:
                typer.echo(printable(f"  {problem}"), err=True)
        return exc.status
    except Exception as exc:
        if os.environ.get("WSIS_DEBUG"):
            traceback.print_exc()
        typer.echo(printable(f"starter.py: failed: {type(exc).__name__}: {exc}"), err=True)
        return 1
    return status if isinstance(status, int) else 0


def _problems(exc: Refused) -> list[str]:
    """Every problem of a refused cycle file (none for any other refusal)."""
    if "services.cycles" not in sys.modules:  # not loaded: ``exc`` cannot be one of its own
        return []
    from services.cycles import CycleFileRefused

    return exc.problems if isinstance(exc, CycleFileRefused) else []


def main() -> None:
    """Run the CLI, then leave without interpreter teardown.

    The Temporal client's Rust core keeps threads that can abort CPython's finalization of a
    short-lived process ("PyGILState_Release ... finalizing", temporalio/sdk-python#300): after
    the command has said all it has to say, skip the teardown.
    """
    code = 1
    try:
        code = run()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
