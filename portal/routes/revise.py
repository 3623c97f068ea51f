"""Editing or withdrawing one's own official submission or project until the deadline
(intake/revisions.py keeps the history). Every change redirects (post, redirect, get)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from intake.ocp import OcpForm
from intake.prizes import ProjectForm
from intake.revisions import edit_project, edit_submission, withdraw_project, withdraw_submission
from intake.windows import Refused
from models.tables import OcpSubmission, Project, ProjectStatus
from portal.deps import CsrfChecked, EngineDep, Me
from portal.forms import OcpFields, ProjectFields, validated
from portal.pages import render
from portal.routes.ocp import not_open, ocp_page
from portal.routes.projects import project_page
from portal.work import read, write

router = APIRouter()
_s = OcpSubmission.__table__  # type: ignore[attr-defined]
_p = Project.__table__  # type: ignore[attr-defined]


def _row(
    engine: sa.Engine, table: Any, owner: Any, item: int, me: int | None
) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == item, owner == me)).first()
    return dict(row._mapping) if row is not None else None


def _refused(request: Request, refused: Refused) -> Response:
    if refused.reason == "not-yours":
        return render(request, "error.html", status=404, problem="not-found")
    return not_open(request, refused)


@router.get("/my/submission/{item}/edit")
async def submission_page(request: Request, item: int, me: Me, engine: EngineDep) -> Response:
    row = await read(_row, engine, _s, _s.c.participant_id, item, me.id)
    if row is None or row["withdrawn_at"] is not None:
        return render(request, "error.html", status=404, problem="not-found")
    return await ocp_page(
        request, engine, row["process_id"], row, problems=[], action=f"/my/submission/{item}/edit"
    )


@router.post("/my/submission/{item}/edit")
async def submission_edit(
    request: Request,
    item: int,
    me: Me,
    _: CsrfChecked,
    engine: EngineDep,
    fields: OcpFields,
) -> Response:
    form, problems = validated(OcpForm, fields)
    if form is None:
        row = await read(_row, engine, _s, _s.c.participant_id, item, me.id)
        if row is None:
            return render(request, "error.html", status=404, problem="not-found")
        return await ocp_page(
            request, engine, row["process_id"], fields, status=400, problems=problems,
            action=f"/my/submission/{item}/edit",
        )  # fmt: skip
    assert me.id is not None
    try:
        await write(request, edit_submission, engine, item, me.id, form)
    except Refused as refused:
        return _refused(request, refused)
    return RedirectResponse(f"/received/submission/{item}", status_code=303)


@router.post("/my/submission/{item}/withdraw")
async def submission_withdraw(
    request: Request, item: int, me: Me, _: CsrfChecked, engine: EngineDep
) -> Response:
    assert me.id is not None
    try:
        await write(request, withdraw_submission, engine, item, me.id)
    except Refused as refused:
        return _refused(request, refused)
    return RedirectResponse("/my?withdrawn=1", status_code=303)


@router.get("/my/project/{item}/edit")
async def project_edit_page(request: Request, item: int, me: Me, engine: EngineDep) -> Response:
    row = await read(_row, engine, _p, _p.c.owner_id, item, me.id)
    if row is None or row["status"] != ProjectStatus.SUBMITTED.value:
        return render(request, "error.html", status=404, problem="not-found")
    return await project_page(
        request, engine, row["process_id"], row, problems=[], action=f"/my/project/{item}/edit"
    )


@router.post("/my/project/{item}/edit")
async def project_edit(
    request: Request,
    item: int,
    me: Me,
    _: CsrfChecked,
    engine: EngineDep,
    fields: ProjectFields,
) -> Response:
    row = await read(_row, engine, _p, _p.c.owner_id, item, me.id)
    if row is None:
        return render(request, "error.html", status=404, problem="not-found")
    action = f"/my/project/{item}/edit"
    form, problems = validated(ProjectForm, fields)
    if form is None:
        return await project_page(
            request, engine, row["process_id"], fields, status=400, problems=problems, action=action
        )
    assert me.id is not None
    try:
        await write(request, edit_project, engine, item, me.id, form)
    except Refused as refused:
        if refused.reason in ("unknown-category", "word-count"):
            return await project_page(
                request,
                engine,
                row["process_id"],
                fields,
                status=400,
                problems=[],
                refused=refused,
                action=action,
            )
        return _refused(request, refused)
    return RedirectResponse(f"/received/project/{item}", status_code=303)


@router.post("/my/project/{item}/withdraw")
async def project_withdraw(
    request: Request, item: int, me: Me, _: CsrfChecked, engine: EngineDep
) -> Response:
    assert me.id is not None
    try:
        await write(request, withdraw_project, engine, item, me.id)
    except Refused as refused:
        return _refused(request, refused)
    return RedirectResponse("/my?withdrawn=1", status_code=303)
