"""Public online voting: the ballot, the review before the final confirm, the receipt.

The ballot shows each category's nominated projects in an order of the voter's own; the
review page says what will be cast, how many categories remain under the all-categories
rule, and that a vote is final; the confirm casts the whole ballot or nothing (with the
others confirmed meanwhile: ``portal.work.BallotBox``). Choices travel in the forms
themselves (no draft is kept), and a second tab that confirms the same categories finds them
voted already.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from intake.accounts import keyed
from intake.ballots import BallotView, ballot_for, check_receipt
from intake.casting import BallotCast, Evidence
from intake.windows import Refused
from models.tables import Participant
from portal.deps import Box, CsrfChecked, EngineDep, Key, Me, Viewer
from portal.pages import render
from portal.routes.ocp import not_open
from portal.security import network_of
from portal.work import acknowledge, read

router = APIRouter()
CHOICE = "choice-"  # a form field per category: choice-<category> = <project id>
_ID = re.compile(r"[0-9]{1,18}")  # a project id: fits a 64-bit integer


def evidence_of(request: Request, key: bytes) -> Evidence:
    """What a vote keeps of its request: the client's network, a keyed hash of its agent."""
    agent = request.headers.get("user-agent", "")[:500]
    network = network_of(request.client.host if request.client else None)
    return Evidence(network=network, agent_hash=keyed(key, f"agent:{agent}")[:32])


async def _choices(request: Request) -> dict[str, int]:
    """The ballot's choices from a form: one project id per category, ids only."""
    form = await request.form()
    chosen: dict[str, int] = {}
    for name, value in form.multi_items():
        # ASCII digits only: str.isdigit() also accepts '²' and '٣', which int() refuses.
        if name.startswith(CHOICE) and isinstance(value, str) and _ID.fullmatch(value):
            category = name.removeprefix(CHOICE)[:100]
            chosen[category] = int(value)
    return chosen


async def _view(
    request: Request, engine: Engine, process_id: str, me: Participant, *,
    only: Collection[int] | None = None,
) -> BallotView | Response:  # fmt: skip
    assert me.id is not None
    try:
        return await read(ballot_for, process_id, me.id, engine, only=only)
    except Refused as refused:
        return not_open(request, refused)


@router.get("/ballot/{process_id}")
async def ballot(request: Request, process_id: str, me: Me, engine: EngineDep) -> Response:
    view = await _view(request, engine, process_id, me)
    if isinstance(view, Response):
        return view
    chosen = {k.removeprefix(CHOICE): v for k, v in request.query_params.items()}
    return render(request, "ballot.html", ballot=view, chosen=chosen)


@router.post("/ballot/{process_id}/review")
async def review(
    request: Request, process_id: str, me: Me, _: CsrfChecked, engine: EngineDep
) -> Response:
    asked = await _choices(request)
    view = await _view(request, engine, process_id, me, only=asked.values())
    if isinstance(view, Response):
        return view
    chosen = {c: p for c, p in asked.items() if c in view.remaining}
    titles = {c.project_id: c.title for choices in view.categories.values() for c in choices}
    left = [c for c in view.remaining if c not in chosen]
    return render(
        request, "ballot_review.html", ballot=view, chosen=chosen, titles=titles, left=len(left)
    )


@router.post("/ballot/{process_id}/confirm")
async def confirm(
    request: Request, process_id: str, me: Me, _: CsrfChecked, tasks: BackgroundTasks,
    engine: EngineDep, key: Key, box: Box,
) -> Response:  # fmt: skip
    chosen = await _choices(request)
    assert me.id is not None
    try:
        receipt = await box.cast(BallotCast(process_id, me.id, chosen, evidence_of(request, key)))
    except Refused as refused:
        if refused.reason in ("closed", "opens-later", "cancelled", "not-open", "unverified"):
            return not_open(request, refused)
        view = await _view(request, engine, process_id, me)
        if isinstance(view, Response):
            return view
        return render(
            request, "ballot_refused.html", status=409, ballot=view, refused=refused,
            chosen=chosen,
        )  # fmt: skip
    if receipt.acknowledgement is not None:
        tasks.add_task(acknowledge, request, receipt.acknowledgement)
    # Post, redirect, get: the receipt page (portal/routes/received.py), reloadable.
    return RedirectResponse(
        f"/ballot/{process_id}/receipt?code={quote(receipt.code)}", status_code=303
    )


@router.get("/receipt")
async def receipt_page(request: Request, _: Viewer) -> Response:
    return render(request, "receipt_check.html", checked=None, code="")


@router.post("/receipt")
async def check(
    request: Request, participant: Viewer, _: CsrfChecked, engine: EngineDep,
    code: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    found = await read(check_receipt, engine, code[:40])
    mine = found is not None and participant is not None and participant.id == found.voter_id
    return render(request, "receipt_check.html", checked=found, code=code[:40], mine=mine)
