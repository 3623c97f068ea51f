"""What a signed-in participant has sent: official submissions, projects (and where each
stands through the nomination), ballots with their receipt codes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from models.tables import Participant
from portal.pages import render
from portal.session import signed_in
from portal.work import read
from reports.mine import mine

router = APIRouter()
Me = Annotated[Participant, Depends(signed_in)]


@router.get("/my")
async def my_submissions(request: Request, me: Me) -> Response:
    assert me.id is not None
    found = await read(mine, me.id, request.app.state.engine)
    return render(request, "mine.html", mine=found)
