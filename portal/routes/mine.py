"""What a signed-in participant has sent: official submissions, projects (and where each
stands through the nomination), ballots with their receipt codes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from portal.deps import EngineDep, Me
from portal.pages import render
from portal.work import read
from reports.mine import mine

router = APIRouter()


@router.get("/my")
async def my_submissions(request: Request, me: Me, engine: EngineDep) -> Response:
    assert me.id is not None
    found = await read(mine, me.id, engine)
    return render(request, "mine.html", mine=found)
