"""Staff accounts (a secretariat grants and revokes roles) and the audit log (shown a page
at a time, exported as CSV)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from models.tables import StaffRole
from portal.staff.auth import checked_form, secretariat
from portal.staff.pages import render
from services import audit, staff
from services.errors import Refused
from services.exports import csv_chunks
from services.staff import Staff

router = APIRouter()
Text = Annotated[str, Form()]
AUDIT_COLUMNS = ("id", "at", "actor", "action", "target", "reason", "detail")


async def _accounts(request: Request, problem: str = "", status: int = 200) -> Response:
    members = await asyncio.to_thread(staff.members, request.app.state.engine)
    return render(
        request, "staff/accounts.html", status=status, members=members,
        roles=[r.value for r in StaffRole], problem=problem,
    )  # fmt: skip


@router.get("/staff/accounts")
async def accounts(request: Request, member: Annotated[Staff, Depends(secretariat)]) -> Response:
    return await _accounts(request)


@router.post("/staff/accounts")
async def add_account(
    request: Request,
    member: Annotated[Staff, Depends(secretariat)],
    email: Text = "",
    role: Text = "",
    name: Text = "",
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    try:
        await asyncio.to_thread(
            staff.add, request.app.state.engine, email, role, actor=member.actor, name=name
        )
    except Refused as exc:
        return await _accounts(request, exc.message, status=400)
    return RedirectResponse("/staff/accounts", status_code=303)


@router.post("/staff/accounts/remove")
async def remove_account(
    request: Request,
    member: Annotated[Staff, Depends(secretariat)],
    staff_id: Annotated[int, Form()] = 0,
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    engine = request.app.state.engine
    target = await asyncio.to_thread(staff.find, engine, staff_id=staff_id)
    if target is None or target.id == member.id:  # nobody removes their own account here
        return await _accounts(request, "", status=400)
    await asyncio.to_thread(staff.remove, engine, target.email, actor=member.actor)
    return RedirectResponse("/staff/accounts", status_code=303)


@router.get("/staff/audit")
async def audit_page(
    request: Request, member: Annotated[Staff, Depends(secretariat)], before: int = 0
) -> Response:
    entries = await asyncio.to_thread(
        audit.entries, request.app.state.engine, before=before or None
    )
    more = entries[-1].id if len(entries) == audit.PAGE else 0
    return render(request, "staff/audit.html", entries=entries, more=more)


@router.get("/staff/audit/export.csv")
async def audit_export(
    request: Request, member: Annotated[Staff, Depends(secretariat)]
) -> Response:
    rows = (
        tuple(getattr(e, c) for c in AUDIT_COLUMNS)
        for e in audit.every_entry(request.app.state.engine)
    )
    return StreamingResponse(
        csv_chunks(AUDIT_COLUMNS, rows),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="audit.csv"'},
    )
