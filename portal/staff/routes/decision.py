"""Phase IV's decision (secretariat or Expert Group lead): the aggregated scores of each
category beside its frozen shortlist, the winner's choice (the workflow's update), and (the
secretariat) the experts' assignments."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from portal.staff.auth import checked_form, require, secretariat
from portal.staff.pages import render
from services import decision, judging, staff
from services.errors import Refused
from services.staff import Staff

router = APIRouter()
Text = Annotated[str, Form()]


async def decider(request: Request) -> Staff:
    """A route's dependency: a secretariat member or the Expert Group's lead."""
    return await require(request, decision.DECIDERS)


async def _page(
    request: Request, member: Staff, contest: str, problem: str = "", status: int = 200
) -> Response:
    engine = request.app.state.engine
    contests = await asyncio.to_thread(decision.contests, engine)
    chosen = contest if contest in contests else (contests[0] if contests else "")
    board = await asyncio.to_thread(decision.board, engine, member, chosen) if chosen else None
    experts = []
    if member.role == "secretariat":
        experts = [m for m in await asyncio.to_thread(staff.members, engine)
                   if m.role in judging.EXPERTS]  # fmt: skip
    return render(
        request, "staff/decision.html", status=status, contests=contests, chosen=chosen,
        board=board, experts=experts, problem=problem[:300],
    )  # fmt: skip


@router.get("/staff/decision")
async def decision_page(
    request: Request, member: Annotated[Staff, Depends(decider)], contest: str = ""
) -> Response:
    return await _page(request, member, contest)


@router.post("/staff/decision/winner")
async def choose_winner(
    request: Request,
    member: Annotated[Staff, Depends(decider)],
    contest: Text = "",
    category: Text = "",
    project: Annotated[list[int] | None, Form()] = None,
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    try:
        await decision.choose(
            request.app.state.engine, member, contest, category, list(project or []),
            request.app.state.settings,
        )  # fmt: skip
    except Refused as exc:
        return await _page(request, member, contest, exc.message, status=400)
    return RedirectResponse(f"/staff/decision?contest={contest}", status_code=303)


@router.post("/staff/decision/assign")
async def assign(
    request: Request,
    member: Annotated[Staff, Depends(secretariat)],
    contest: Text = "",
    category: Text = "",
    expert: Annotated[int, Form()] = 0,
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    engine = request.app.state.engine
    found = await asyncio.to_thread(lambda: staff.find(engine, staff_id=expert))
    try:
        if found is None:
            raise Refused("choose an expert from the list")
        await asyncio.to_thread(
            judging.assign, engine, found, contest, category, actor=member.actor
        )
    except Refused as exc:
        return await _page(request, member, contest, exc.message, status=400)
    return RedirectResponse(f"/staff/decision?contest={contest}", status_code=303)
