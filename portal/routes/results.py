"""The results of a contest: winners and Champions per category, once the WSIS Prize
Ceremony has announced them. Before that no page shows a count or a winner."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from models.tables import WindowKind
from portal.deps import EngineDep, Viewer
from portal.pages import render
from portal.work import read
from reports.calendar import window_of
from reports.prizes import results, results_are_public
from reports.votes import category_names

router = APIRouter()


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
    return render(
        request, "results.html", found=found, names=names, title=voting.title, titles=voting.titles
    )
