"""Take what participants send on their behalf: official submissions, projects, votes, and
the secretariat's phase II eligibility marks. The portal calls the same intake functions.

Every ``--csv`` batch goes through the one CSV reader (``intake.csvfile``): the header is
checked first (the message names the expected columns), then each line is accepted or
refused on its own with its line number; one bad line never stops the others.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import (
    INVALID,
    REFUSED,
    Contest,
    Cycle,
    Outcome,
    fail,
    lazy,
    reasons,
    report_outcomes,
)
from cli.staff import operator
from core.files import FileRefused
from intake.csvfile import Columns, CsvProblem, read_csv
from models import ids
from models.reasons import INELIGIBLE_REASONS
from models.text import clean_line, clean_text
from services.errors import Refused as ServiceRefused

if TYPE_CHECKING:
    from core.db import get_engine, migrate
    from core.settings import get_settings
    from intake.acks import AckOutcome
    from intake.ocp import submit_ocp
    from intake.votes import Ballot
else:  # reached (and replaced in tests) as ``cli.intake.<name>``
    get_engine, migrate = lazy("core.db", "get_engine"), lazy("core.db", "migrate")
    get_settings = lazy("core.settings", "get_settings")
    submit_ocp = lazy("intake.ocp", "submit_ocp")

commands = typer.Typer()


CsvFile = Annotated[Path | None, typer.Option("--csv", help="A batch: one row each")]
ProjectId = Annotated[int | None, typer.Option(min=1, max=ids.MAX_ID)]

OCP_COLUMNS = Columns(
    required=("name", "email", "organization", "country", "proposal"),
    optional=("telephone", "stakeholder_type", "language"),
    multiline=("proposal",),
    aliases={"full_name": "name"},
)
PROJECT_COLUMNS = Columns(
    required=("owner_email", "category", "title", "description", "stakeholder_type", "country"),
    optional=("owner_name", "organization"),
    multiline=("description",),
)
NOMINATION_COLUMNS = Columns(
    required=("project_id", "reason"), optional=("note",), multiline=("note",)
)
VOTE_COLUMNS = Columns(
    required=("voter", "category", "project"),
    aliases={"voter_email": "voter", "project_id": "project"},
)


def rows_of(
    csv_file: Path | None, columns: Columns, single: dict[str, Any], label: str
) -> list[tuple[str, dict[str, Any] | str]]:
    """``(where, fields or the reason the line is unreadable)`` for every row of
    ``csv_file``, or the one row given as options. A file that cannot be read as a table
    of ``columns`` is refused whole (one line, exit 2) before any row is taken."""
    if csv_file is None:
        return [(label, single)]
    try:
        table = read_csv(csv_file, columns)
        return [
            (f"line {item.line}", item.reason if isinstance(item, CsvProblem) else item.fields)
            for item in table
        ]
    except FileRefused as exc:
        raise fail(str(exc), INVALID) from None


def project_id(text: object) -> int:
    """A project id from a form or a CSV field; ``ValueError`` saying why it is not one."""
    word = clean_line(str(text or ""))
    if not word:
        raise ValueError("is required")
    if not word.isdecimal() or not word.isascii():
        raise ValueError(f"{word[:40]!r} is not a project id (a whole number)")
    value = int(word)
    if not 0 < value <= ids.MAX_ID:
        raise ValueError(f"{word[:40]} is not a project id (1 to {ids.MAX_ID})")
    return value


def _failed(where: str, exc: Exception) -> Outcome:
    # Anything else one row runs into (the database, the mail server) is that row's failure:
    # the rest of the batch goes on.
    return Outcome(where, f"failed ({type(exc).__name__}: {exc}); the rest goes on", REFUSED)


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
    import asyncio

    from pydantic import ValidationError

    from intake.ocp import OcpForm
    from intake.windows import Refused

    migrate()
    process_id = ids.ocp_id(cycle)
    single = {
        "name": name or "",
        "email": email or "",
        "organization": organization or "",
        "country": country or "",
        "telephone": telephone,
        "stakeholder_type": stakeholder_type,
        "proposal": proposal or "",
    }
    outcomes: list[Outcome] = []
    for where, data in rows_of(csv_file, OCP_COLUMNS, single, "form"):
        if isinstance(data, str):
            outcomes.append(Outcome(where, data, INVALID))
            continue
        fields = dict(data)
        fields["full_name"] = fields.pop("name", "")
        try:
            form = OcpForm.model_validate(fields)
        except ValidationError as exc:
            outcomes.append(Outcome(where, reasons(exc), INVALID))
            continue
        try:
            receipt = asyncio.run(submit_ocp(process_id, form, get_engine(), get_settings()))
        except Refused as exc:
            outcomes.append(Outcome(where, str(exc)))
            continue
        except Exception as exc:
            outcomes.append(_failed(where, exc))
            continue
        ack = receipt.acknowledgement.summary
        outcomes.append(Outcome(where, done=f"submission {receipt.submission_id} recorded, {ack}"))
    report_outcomes(outcomes)


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
    import asyncio

    from pydantic import ValidationError

    from intake.prizes import ProjectForm, submit_project
    from intake.windows import Refused

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
    outcomes: list[Outcome] = []
    for where, data in rows_of(csv_file, PROJECT_COLUMNS, single, "form"):
        if isinstance(data, str):
            outcomes.append(Outcome(where, data, INVALID))
            continue
        try:
            form = ProjectForm.model_validate(data)
        except ValidationError as exc:
            outcomes.append(Outcome(where, reasons(exc), INVALID))
            continue
        try:
            receipt = asyncio.run(submit_project(process_id, form, get_engine(), get_settings()))
        except Refused as exc:
            outcomes.append(Outcome(where, str(exc)))
            continue
        except Exception as exc:
            outcomes.append(_failed(where, exc))
            continue
        ack = receipt.acknowledgement.summary
        outcomes.append(Outcome(f"{where}: project {receipt.project_id}, {ack}"))
    report_outcomes(outcomes)


@commands.command()
def nominate(
    cycle: Cycle,
    contest: Contest = ids.PRIZES_SLUG,
    ineligible: Annotated[
        int | None, typer.Option(min=1, max=ids.MAX_ID, help="Project id to mark ineligible")
    ] = None,
    reason: Annotated[
        str,
        typer.Option(help=f"The listed reason its owner reads: {', '.join(INELIGIBLE_REASONS)}"),
    ] = "",
    note: Annotated[str, typer.Option(help="Internal note (audit log only; never mailed)")] = "",
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Columns: project_id,reason[,note]")
    ] = None,
) -> None:
    """Phase II: mark a submission ineligible (or a CSV of them); its owner is e-mailed the
    listed reason at once, in their language. The same service as the console's."""
    import asyncio

    from intake.fields import REASON_LIMIT
    from intake.windows import Refused
    from services import eligibility

    process_id = ids.contest_id(cycle, contest)
    single = {"project_id": str(ineligible or ""), "reason": reason, "note": note}
    outcomes: list[Outcome] = []
    for where, data in rows_of(csv_file, NOMINATION_COLUMNS, single, "project"):
        if isinstance(data, str):
            outcomes.append(Outcome(where, data, INVALID))
            continue
        try:
            pid = project_id(data.get("project_id"))
        except ValueError as exc:
            outcomes.append(Outcome(where, f"project_id: {exc}", INVALID))
            continue
        code = clean_line(str(data.get("reason") or ""))
        if code not in INELIGIBLE_REASONS:
            listed = ", ".join(INELIGIBLE_REASONS)
            said = f"{code[:30]!r} is not" if code else "is required:"
            outcomes.append(Outcome(where, f"reason: {said} one of {listed}", INVALID))
            continue
        why = clean_text(str(data.get("note") or ""))
        if len(why) > REASON_LIMIT:
            outcomes.append(Outcome(where, f"note: at most {REASON_LIMIT:,} characters", INVALID))
            continue
        try:
            told = asyncio.run(
                eligibility.mark(
                    get_engine(), get_settings(), process_id, pid, code, why, actor=operator()
                )
            )
        except (Refused, ServiceRefused) as exc:
            outcomes.append(Outcome(where, str(exc)))
            continue
        except Exception as exc:
            outcomes.append(_failed(where, exc))
            continue
        outcomes.append(Outcome(f"{where} {pid}", done=f"marked ineligible; {told_line(told)}"))
    report_outcomes(outcomes)


def told_line(outcome: AckOutcome) -> str:
    """What became of the owner's e-mail, as the command line reports it."""
    from intake.acks import AckOutcome

    return {
        AckOutcome.SENT: "its owner was e-mailed",
        AckOutcome.QUEUED: "its owner's e-mail is queued (mail server unavailable; retried)",
        AckOutcome.REFUSED: "its owner's e-mail was refused by the mail server (see the outbox)",
    }[outcome]


def ballot_of(data: dict[str, Any]) -> Ballot:
    """A ballot from a form or a CSV line; ``ValueError`` naming the field otherwise."""
    from intake.votes import Ballot

    voter = clean_line(str(data.get("voter") or ""))
    category = clean_line(str(data.get("category") or ""))
    if not voter:
        raise ValueError("voter: is required (the voter's e-mail address)")
    if not category:
        raise ValueError("category: is required")
    try:
        return Ballot(voter, category, project_id(data.get("project")))
    except ValueError as exc:
        raise ValueError(f"project: {exc}") from None


@commands.command()
def vote(
    cycle: Cycle,
    contest: Contest = ids.PRIZES_SLUG,
    voter: Annotated[str | None, typer.Option(help="The voter's e-mail")] = None,
    category: str | None = None,
    project: ProjectId = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Columns: voter,category,project")
    ] = None,
) -> None:
    """Phase III: cast a vote (or a CSV batch); one vote per voter per category."""
    from intake.votes import cast_votes
    from intake.windows import Refused

    process_id = ids.contest_id(cycle, contest)
    single = {"voter": voter or "", "category": category or "", "project": project or ""}
    outcomes: dict[int, Outcome] = {}
    ballots: list[tuple[int, str, Ballot]] = []
    rows = rows_of(csv_file, VOTE_COLUMNS, single, "vote")
    for n, (where, data) in enumerate(rows):
        try:
            if isinstance(data, str):
                raise ValueError(data)
            ballots.append((n, where, ballot_of(data)))
        except ValueError as exc:
            outcomes[n] = Outcome(where, str(exc), INVALID)
    try:
        cast = cast_votes(process_id, [b for _, _, b in ballots], get_engine()) if ballots else []
    except Refused as exc:  # the window refused the whole batch: one line says so
        outcomes[len(rows)] = Outcome(f"{len(ballots)} ballot(s)", str(exc))
        cast = []
    for (n, where, _), why in zip(ballots, cast, strict=False):
        outcomes[n] = Outcome(where, why)
    report_outcomes(outcomes[n] for n in sorted(outcomes))
