"""The pages a successful form leads to (post, then redirect, then get: a reload never sends
the form again): an official submission received, a project submitted, a ballot's receipt.
Each shows only the signed-in participant's own."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import Response

from intake.ballots import check_receipt
from models.tables import OcpSubmission, Project, WindowKind
from portal.deps import EngineDep, Me
from portal.pages import render
from portal.work import read
from reports.calendar import window_of

router = APIRouter()
_s = OcpSubmission.__table__  # type: ignore[attr-defined]
_p = Project.__table__  # type: ignore[attr-defined]
KINDS = {
    "submission": (_s, _s.c.participant_id, WindowKind.OCP_SUBMISSIONS),
    "project": (_p, _p.c.owner_id, WindowKind.PROJECT_SUBMISSIONS),
}


def _process_of(engine: sa.Engine, what: str, number: int, owner: int) -> str | None:
    table, owned_by, _ = KINDS[what]
    with engine.connect() as conn:
        found: str | None = conn.execute(
            sa.select(table.c.process_id).where(table.c.id == number, owned_by == owner)
        ).scalar()
    return found


@router.get("/received/{what}/{number}")
async def received(request: Request, what: str, number: int, me: Me, engine: EngineDep) -> Response:
    if what not in KINDS or me.id is None:
        return render(request, "error.html", status=404, problem="not-found")
    process_id = await read(_process_of, engine, what, number, me.id)
    if process_id is None:
        return render(request, "error.html", status=404, problem="not-found")
    window = await read(window_of, process_id, KINDS[what][2], engine)
    return render(request, "received.html", what=what, number=number, window=window)


@router.get("/ballot/{process_id}/receipt")
async def receipt(
    request: Request, process_id: str, me: Me, engine: EngineDep, code: str = ""
) -> Response:
    """The voter's own receipt for a ballot just cast (its code in the address)."""
    found = await read(check_receipt, engine, code[:40])
    if found is None or found.voter_id != me.id or found.process_id != process_id:
        return render(request, "error.html", status=404, problem="not-found")
    return render(
        request, "ballot_receipt.html", receipt={"code": code.strip().upper()}, checked=found
    )
