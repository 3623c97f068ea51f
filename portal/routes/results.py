"""The results of a contest: winners and Champions per category with their descriptions, and
the contest's figures as charts with their tables, once the WSIS Prize Ceremony has announced
them. Before that no page (and no chart) shows a count or a winner."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from models.tables import WindowKind
from portal.deps import EngineDep, Viewer
from portal.pages import render, wanted_language
from portal.work import read
from reports.calendar import window_of
from reports.figures import KINDS, chart_labels, contest_figures
from reports.prizes import results, results_are_public
from reports.votes import category_names, vote_counts
from services import charts

router = APIRouter()
VOTES_PER_DAY = "votes-per-day"


@router.get("/results/{process_id}")
async def contest_results(
    request: Request, process_id: str, _: Viewer, engine: EngineDep
) -> Response:
    voting = await read(window_of, process_id, WindowKind.VOTING, engine)
    if voting is None:
        return render(request, "error.html", status=404, problem="not-found")
    if not await read(results_are_public, process_id, engine):
        return render(
            request, "results.html", found=None, names={}, title=voting.title, titles=voting.titles
        )
    found = await read(results, process_id, engine, only_shortlisted=True)
    names = await read(category_names, process_id, engine)
    figures = await read(contest_figures, process_id, engine)
    counts = await read(vote_counts, process_id, engine)
    return render(
        request, "results.html", found=found, names=names, title=voting.title, titles=voting.titles,
        figures=figures, votes_per_day=counts.by_day, process_id=process_id,
    )  # fmt: skip


@router.get("/results/{process_id}/{kind}.svg")
async def chart(request: Request, process_id: str, kind: str, engine: EngineDep) -> Response:
    """One of the results page's charts; none before the ceremony (the same 404 as an
    unknown chart: nothing is learnt from it)."""
    if kind not in (*KINDS, VOTES_PER_DAY):
        return Response(status_code=404)
    if not await read(results_are_public, process_id, engine):
        return Response(status_code=404)
    if kind == VOTES_PER_DAY:
        counts = await read(vote_counts, process_id, engine)
        svg = await asyncio.to_thread(charts.bars, "", counts.by_day)
    else:
        found = (await read(contest_figures, process_id, engine)).of(kind)
        labels = chart_labels(kind, found, wanted_language(request))
        svg = await asyncio.to_thread(charts.shares, "", found, labels)
    # Named in the visitor's language: a cache keeps one picture per language.
    headers = {"cache-control": "no-cache", "vary": "Cookie, Accept-Language"}
    return Response(svg, media_type="image/svg+xml", headers=headers)
