"""Take what participants send on their behalf: official submissions, projects, votes, and
the secretariat's phase II eligibility marks. The portal calls the same intake functions."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from cli.common import REFUSED, fail, reasons, report_outcomes
from core.db import get_engine, migrate
from core.settings import get_settings
from intake.ocp import OcpForm, submit_ocp
from intake.prizes import Ballot, ProjectForm, cast_votes, mark_ineligible, submit_project
from intake.windows import Refused
from models import ids

commands = typer.Typer()

Cycle = Annotated[str, typer.Argument(help="YEAR or cycle id, e.g. 2017")]
Contest = Annotated[str, typer.Option(help="Contest slug")]
CsvFile = Annotated[Path | None, typer.Option("--csv", help="A batch: one row each")]


def rows_of(csv_file: Path | None, single: dict[str, Any], label: str) -> list[tuple[str, Any]]:
    """``(where, fields)`` for every row of ``csv_file``, or the one row given as options."""
    if csv_file is None:
        return [(label, single)]
    with csv_file.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        return [(f"line {reader.line_num}", dict(r)) for r in reader]


@commands.command("submit-ocp")
def submit_ocp_command(
    cycle: Cycle,
    name: Annotated[str | None, typer.Option("--name", help="Full name")] = None,
    email: str | None = None,
    organization: str | None = None,
    country: str | None = None,
    telephone: str | None = None,
    stakeholder_type: str | None = None,
    proposal: Annotated[str | None, typer.Option(help="The proposal text")] = None,
    csv_file: CsvFile = None,
) -> None:
    """Record an official OCP submission (or a CSV batch) and acknowledge it by email."""
    migrate()
    process_id = ids.ocp_id(cycle)
    single = {
        "full_name": name or "",
        "email": email or "",
        "organization": organization or "",
        "country": country or "",
        "telephone": telephone,
        "stakeholder_type": stakeholder_type,
        "proposal": proposal or "",
    }
    refused = 0
    for where, data in rows_of(csv_file, single, "form"):
        data = {("full_name" if k == "name" else k): v for k, v in data.items()}
        try:
            form = OcpForm.model_validate(data)
            receipt = asyncio.run(submit_ocp(process_id, form, get_engine(), get_settings()))
        except ValidationError as exc:
            refused += 1
            typer.echo(f"{where}: refused: {reasons(exc)}", err=True)
            continue
        except Refused as exc:
            refused += 1
            typer.echo(f"{where}: refused: {exc}", err=True)
            continue
        ack = (
            "acknowledged" if receipt.acknowledged else "acknowledgement queued (mail server down)"
        )
        typer.echo(f"{where}: submission {receipt.submission_id} recorded, {ack}")
    if refused:
        raise typer.Exit(REFUSED)


@commands.command("submit-project")
def submit_project_command(
    cycle: Cycle,
    contest: Contest = ids.PRIZES_SLUG,
    owner_email: str | None = None,
    owner_name: str | None = None,
    category: str | None = None,
    title: str | None = None,
    description: str | None = None,
    organization: str = "",
    stakeholder_type: str | None = None,
    country: str | None = None,
    csv_file: CsvFile = None,
) -> None:
    """Submit a project to a contest (phase I) and acknowledge it by email."""
    migrate()
    process_id = ids.contest_id(cycle, contest)
    single = {
        "owner_email": owner_email or "",
        "owner_name": owner_name,
        "category": category or "",
        "title": title or "",
        "description": description or "",
        "organization": organization,
        "stakeholder_type": stakeholder_type or "",
        "country": country or "",
    }
    outcomes: list[tuple[str, str | None]] = []
    for where, data in rows_of(csv_file, single, "form"):
        try:
            form = ProjectForm.model_validate(data)
            receipt = asyncio.run(submit_project(process_id, form, get_engine(), get_settings()))
            outcomes.append((f"{where}: project {receipt.project_id}", None))
        except ValidationError as exc:
            outcomes.append((where, reasons(exc)))
        except Refused as exc:
            outcomes.append((where, str(exc)))
    report_outcomes(outcomes)


@commands.command()
def nominate(
    cycle: Cycle,
    contest: Contest = ids.PRIZES_SLUG,
    ineligible: Annotated[int | None, typer.Option(help="Project id to mark ineligible")] = None,
    reason: Annotated[str, typer.Option(help="Why (told to no one but the record)")] = "",
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Columns: project_id,reason")
    ] = None,
) -> None:
    """Phase II: mark a submission ineligible, with the reason (or a CSV of them)."""
    process_id = ids.contest_id(cycle, contest)
    single = {"project_id": str(ineligible or ""), "reason": reason}
    outcomes: list[tuple[str, str | None]] = []
    for where, data in rows_of(csv_file, single, "project"):
        try:
            mark_ineligible(
                process_id, int(data["project_id"]), data.get("reason", ""), get_engine()
            )
            outcomes.append((f"{where} {data['project_id']} marked ineligible", None))
        except (Refused, ValueError) as exc:
            outcomes.append((where, str(exc)))
    report_outcomes(outcomes)


@commands.command()
def vote(
    cycle: Cycle,
    contest: Contest = ids.PRIZES_SLUG,
    voter: Annotated[str | None, typer.Option(help="The voter's e-mail")] = None,
    category: str | None = None,
    project: int | None = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Columns: voter,category,project")
    ] = None,
) -> None:
    """Phase III: cast a vote (or a CSV batch); one vote per voter per category."""
    process_id = ids.contest_id(cycle, contest)
    single = {"voter": voter or "", "category": category or "", "project": str(project or 0)}
    rows = rows_of(csv_file, single, "vote")
    ballots = [Ballot(d["voter"], d["category"], int(d["project"] or 0)) for _, d in rows]
    try:
        outcomes = cast_votes(process_id, ballots, get_engine())
    except Refused as exc:
        raise fail(str(exc)) from None
    report_outcomes([(w, o) for (w, _), o in zip(rows, outcomes, strict=True)])
