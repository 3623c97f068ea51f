"""The secretariat's vote review: votes per day and per category, the clusters, voiding with
an internal reason, the valid votes' hash before and after (``services.votes``, as the
CLI)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from portal.staff.auth import checked_form, secretariat
from portal.staff.pages import render
from services import charts, votes
from services.errors import Refused
from services.staff import Staff

router = APIRouter()
Text = Annotated[str, Form()]


async def _page(
    request: Request,
    contest: str,
    *,
    problem: str = "",
    done: votes.Voided | None = None,
    status: int = 200,
) -> Response:
    engine = request.app.state.engine
    contests = await asyncio.to_thread(votes.contests, engine)
    chosen = contest if contest in contests else (contests[0] if contests else "")
    counts = clusters = digest = None
    if chosen:
        counts = await asyncio.to_thread(votes.counts, engine, chosen)
        clusters = await asyncio.to_thread(
            lambda: votes.clusters(engine, chosen, within=timedelta(minutes=10), min_voters=10)
        )
        digest = await asyncio.to_thread(votes.valid_hash, engine, chosen)
    return render(
        request, "staff/votes.html", status=status, contests=contests, chosen=chosen,
        counts=counts, clusters=clusters, digest=digest, problem=problem[:300], done=done,
    )  # fmt: skip


@router.get("/staff/votes")
async def review(
    request: Request, member: Annotated[Staff, Depends(secretariat)], contest: str = ""
) -> Response:
    return await _page(request, contest)


@router.post("/staff/votes/void")
async def void(
    request: Request,
    member: Annotated[Staff, Depends(secretariat)],
    contest: Text = "",
    network: Text = "",
    reason: Text = "",
    csrf: Text = "",
) -> Response:
    await checked_form(request, csrf)
    try:
        done = await asyncio.to_thread(
            lambda: votes.void(
                request.app.state.engine, contest, reason=reason, network=network,
                actor=member.actor,
            )
        )  # fmt: skip
    except Refused as exc:
        return await _page(request, contest, problem=exc.message, status=400)
    return await _page(request, contest, done=done)


@router.get("/staff/votes/{kind}.svg")
async def chart(
    request: Request, kind: str, member: Annotated[Staff, Depends(secretariat)], contest: str = ""
) -> Response:
    """Votes per day or per category as an SVG picture (the page has its table)."""
    if kind not in ("per-day", "per-category"):
        return Response(status_code=404)
    found = await asyncio.to_thread(votes.counts, request.app.state.engine, contest)
    data = found.by_day if kind == "per-day" else found.by_category
    svg = await asyncio.to_thread(charts.bars, "", data)
    return Response(svg, media_type="image/svg+xml", headers={"cache-control": "no-store"})
