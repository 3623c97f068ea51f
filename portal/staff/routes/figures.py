"""A contest's figures in the console, as charts with their tables: nominated projects by
stakeholder type, projects submitted per country and per category (``reports.figures``).
Counts of projects only, no vote: any staff member may read them."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from portal.pages import wanted_language
from portal.staff.auth import any_staff
from portal.staff.pages import render
from reports.figures import KINDS, chart_labels, contest_figures
from services import charts, votes
from services.staff import Staff

router = APIRouter()


@router.get("/staff/figures")
async def figures(
    request: Request, member: Annotated[Staff, Depends(any_staff)], contest: str = ""
) -> Response:
    engine = request.app.state.engine
    contests = await asyncio.to_thread(votes.contests, engine)
    chosen = contest if contest in contests else (contests[0] if contests else "")
    found = await asyncio.to_thread(contest_figures, chosen, engine) if chosen else None
    return render(request, "staff/figures.html", contests=contests, chosen=chosen, found=found)


@router.get("/staff/figures/{kind}.svg")
async def chart(
    request: Request, kind: str, member: Annotated[Staff, Depends(any_staff)], contest: str = ""
) -> Response:
    """One breakdown as an SVG picture (the page has its table)."""
    if kind not in KINDS:
        return Response(status_code=404)
    found = (await asyncio.to_thread(contest_figures, contest, request.app.state.engine)).of(kind)
    labels = chart_labels(kind, found, wanted_language(request, "staff"))
    svg = await asyncio.to_thread(charts.shares, "", found, labels)
    return Response(svg, media_type="image/svg+xml", headers={"cache-control": "no-store"})
