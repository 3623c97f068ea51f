"""Start a cycle with its preview (every action, Geneva and UTC, whom it reaches, the past
ones), and next year's cycle from this year's, side by side for editing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from portal.staff.auth import checked_form, secretariat
from portal.staff.pages import render
from services import cycle_files, cycles
from services.cycles import CycleFileRefused
from services.errors import Refused
from services.next_cycle import next_cycle_text
from services.staff import Staff

router = APIRouter()
Text = Annotated[str, Form()]
GENEVA = "Europe/Zurich"


def _refusal(exc: Refused) -> list[str]:
    return exc.problems if isinstance(exc, CycleFileRefused) else [exc.message]


@router.get("/staff/start")
async def start_page(
    request: Request, member: Annotated[Staff, Depends(secretariat)], file: str = ""
) -> Response:
    """Choose a file; with one chosen, its check and its preview."""
    seen = problems = None
    if file:
        try:
            cycle = await asyncio.to_thread(cycles.load, cycle_files.path_of(file))
            seen = await asyncio.to_thread(
                cycles.preview, cycle, now=datetime.now(UTC), settings=request.app.state.settings
            )
        except Refused as exc:
            problems = _refusal(exc)
    return render(
        request, "staff/start.html", files=cycle_files.names(), file=file, seen=seen,
        problems=problems, geneva=GENEVA,
    )  # fmt: skip


@router.post("/staff/start")
async def start(
    request: Request,
    member: Annotated[Staff, Depends(secretariat)],
    file: Text = "",
    skip_past: Text = "",
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    try:
        cycle = await asyncio.to_thread(cycles.load, cycle_files.path_of(file))
        message = await cycles.start(
            cycle, skip_past=skip_past == "yes", actor=member.actor,
            settings=request.app.state.settings,
        )  # fmt: skip
    except Refused as exc:
        return render(
            request, "staff/start.html", status=400, files=cycle_files.names(), file=file,
            seen=None, problems=_refusal(exc), geneva=GENEVA,
        )  # fmt: skip
    except RuntimeError:
        return render(
            request, "staff/start.html", status=503, files=cycle_files.names(), file=file,
            seen=None, problems=["temporal"], geneva=GENEVA,
        )  # fmt: skip
    return render(request, "staff/started.html", message=message)


@router.get("/staff/next-cycle")
async def next_cycle_page(
    request: Request, member: Annotated[Staff, Depends(secretariat)], file: str = "",
    year: int = 0,
) -> Response:  # fmt: skip
    old = new = ""
    problems = None
    if file and year:
        try:
            path = cycle_files.path_of(file)
            old = path.read_text(encoding="utf-8")
            new, _ = await asyncio.to_thread(next_cycle_text, path, year)
        except Refused as exc:
            problems = _refusal(exc)
    return render(
        request, "staff/next_cycle.html", files=cycle_files.names(), file=file, year=year or "",
        old=old, new=new, problems=problems, saved=None,
    )  # fmt: skip


@router.post("/staff/next-cycle")
async def save_next_cycle(
    request: Request,
    member: Annotated[Staff, Depends(secretariat)],
    file: Text = "",
    year: Text = "",
    text: Text = "",
    csrf: Text = "",
) -> Response:
    """Keep the edited file as a draft (checked first), ready for the start page."""
    await checked_form(request, csrf)
    name = f"{year.strip()}.toml"
    try:
        cycle = await asyncio.to_thread(cycle_files.save_draft, name, text)
    except Refused as exc:
        old = ""
        with contextlib.suppress(Refused):
            old = cycle_files.path_of(file).read_text(encoding="utf-8")
        return render(
            request, "staff/next_cycle.html", status=400, files=cycle_files.names(), file=file,
            year=year, old=old, new=text, problems=_refusal(exc), saved=None,
        )  # fmt: skip
    return render(
        request, "staff/next_cycle.html", files=cycle_files.names(), file=file, year=year,
        old="", new="", problems=None, saved=(name, cycle.cycle_id),
    )  # fmt: skip
