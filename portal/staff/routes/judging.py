"""Phase IV for the Expert Group: my projects and progress, a project's full submission with
my score sheet (a draft until submitted) or my conflict-of-interest declaration. Every rule
is the service's (``services.judging``): a page only shows what it is allowed."""

from __future__ import annotations

import asyncio
from itertools import groupby
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from portal.staff.auth import checked_form, require
from portal.staff.pages import render
from services import judging
from services.errors import Refused
from services.staff import Staff

router = APIRouter()
Text = Annotated[str, Form()]
EXPERTS = ("expert", "expert-lead")


async def expert(request: Request) -> Staff:
    """A route's dependency: a member of the Expert Group (expert or lead)."""
    return await require(request, EXPERTS)


@router.get("/staff/judging")
async def my_work(request: Request, member: Annotated[Staff, Depends(expert)]) -> Response:
    sheets = await asyncio.to_thread(judging.work, request.app.state.engine, member)
    done, total = judging.progress(sheets)
    groups = [
        (key, list(items)) for key, items in groupby(sheets, lambda s: (s.process_id, s.category))
    ]
    return render(request, "staff/judging.html", groups=groups, done=done, total=total)


async def _sheet_page(
    request: Request, member: Staff, project_id: int, problem: str = "", status: int = 200
) -> Response:
    engine = request.app.state.engine
    try:
        sheet = await asyncio.to_thread(judging.project, engine, member, project_id)
    except Refused as exc:
        return render(request, "staff/judging_refused.html", status=404, problem=exc.message)
    criteria = await asyncio.to_thread(judging.rubric, engine, sheet.process_id)
    return render(
        request, "staff/judging_sheet.html", status=status, sheet=sheet, criteria=criteria,
        problem=problem,
    )  # fmt: skip


@router.get("/staff/judging/{project_id}")
async def sheet_page(
    request: Request, project_id: int, member: Annotated[Staff, Depends(expert)]
) -> Response:
    return await _sheet_page(request, member, project_id)


@router.post("/staff/judging/{project_id}")
async def save_sheet(
    request: Request,
    project_id: int,
    member: Annotated[Staff, Depends(expert)],
    comment: Text = "",
    action: Text = "draft",
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    form = await request.form()
    scores = {str(k)[6:]: str(v)[:10] for k, v in form.items() if str(k).startswith("score:")}
    try:
        await asyncio.to_thread(
            judging.save, request.app.state.engine, member, project_id, scores, comment,
            submit=action == "submit",
        )  # fmt: skip
    except Refused as exc:
        return await _sheet_page(request, member, project_id, exc.message, status=400)
    return RedirectResponse(f"/staff/judging/{project_id}", status_code=303)


@router.post("/staff/judging/{project_id}/recuse")
async def recuse(
    request: Request,
    project_id: int,
    member: Annotated[Staff, Depends(expert)],
    reason: Text = "",
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    try:
        await asyncio.to_thread(
            judging.recuse, request.app.state.engine, member, project_id, reason
        )
    except Refused as exc:
        return await _sheet_page(request, member, project_id, exc.message, status=400)
    return RedirectResponse(f"/staff/judging/{project_id}", status_code=303)
