"""Exports from the command line: the same lists and files as the console's."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from cli.common import INVALID, fail

commands = typer.Typer()


@commands.command("export")
def export_list(
    kind: Annotated[str, typer.Argument(help="participants, submissions or projects")],
    out: Annotated[Path, typer.Option("-o", "--out", help="The file to write")],
    fmt: Annotated[str, typer.Option("--format", help="csv or xlsx")] = "csv",
    q: Annotated[str, typer.Option("--search", help="Text anywhere in names or titles")] = "",
    process: Annotated[str, typer.Option(help="Only this process id (wsis-2024-ocp)")] = "",
    country: str = "",
    stakeholder_type: str = "",
    category: str = "",
    status: str = "",
) -> None:
    """Export a list (what the console's list shows) as CSV or XLSX, formulas neutralised."""
    from services.database import ready_engine
    from services.exports import FORMATS, export
    from services.lists import KINDS, Query

    if kind not in KINDS:
        raise fail(f"{kind[:30]!r}: give participants, submissions or projects", INVALID)
    if fmt not in FORMATS:
        raise fail(f"--format {fmt[:10]!r}: give csv or xlsx", INVALID)
    filters = {
        "process_id": process, "country": country, "stakeholder_type": stakeholder_type,
        "category": category, "status": status,
    }  # fmt: skip
    query = Query(kind, q=q, filters={k: v for k, v in filters.items() if v})
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise fail(f"{out}: exists; nothing was written", INVALID) from None
    except OSError as exc:
        raise fail(f"{out}: {exc.strerror}", INVALID) from None
    size = 0
    with os.fdopen(fd, "wb") as fh:
        for chunk in export(ready_engine(), query, fmt):
            size += fh.write(chunk)
    typer.echo(f"{out}: {size} bytes ({fmt})")
