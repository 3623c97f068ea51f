"""The ``starter.py`` command line, assembled from one module per audience."""

from __future__ import annotations

import logging
import os
import sys

import typer

from cli import admin, changes, cycle, expert, intake, reports

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The secretariat's command line: check and start a cycle, change it while it runs, "
    "take submissions and votes, record the Expert Group's choices, print reports.\n\n"
    "Exit status: 0 done, 1 refused or failed (the message says why), 2 invalid input.",
)
for audience in (cycle, changes, intake, expert):
    app.add_typer(audience.commands)
app.add_typer(reports.commands, name="report")
app.add_typer(admin.participants, name="participants")
app.add_typer(admin.db, name="db")


def main() -> None:
    """Run the CLI, then leave without interpreter teardown.

    The Temporal client's Rust core keeps threads that can abort CPython's finalization of a
    short-lived process ("PyGILState_Release ... finalizing", temporalio/sdk-python#300): after
    the command has said all it has to say, skip the teardown.
    """
    code = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
