"""Participants, official submissions and projects: search, filters, sorting, keyset pages,
a detail page for each row, and the same list exported (CSV or XLSX, streamed)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from portal.staff.auth import any_staff
from portal.staff.pages import render
from services import audit
from services.exports import FORMATS, export, media_type
from services.lists import KINDS, Query, choices, detail, page
from services.staff import Staff

router = APIRouter()
# What a list page shows of each row (the export has every column).
SHOWN = {
    "participants": ("name", "organization", "country", "stakeholder_type", "language"),
    "submissions": ("process_id", "full_name", "organization", "country", "stakeholder_type"),
    "projects": ("process_id", "category", "title", "organization", "country", "status"),
}
_CHOICES: dict[tuple[str, str], tuple[float, list[str]]] = {}
CHOICES_FOR = 60.0  # seconds a filter's values are kept per process


def _choices(engine: Any, kind: str, column: str) -> list[str]:
    now = time.monotonic()
    kept = _CHOICES.get((kind, column))
    if kept is None or now - kept[0] > CHOICES_FOR:
        kept = (now, choices(engine, kind, column))
        _CHOICES[(kind, column)] = kept
    return kept[1]


def _query(kind: str, request: Request) -> Query:
    if kind not in KINDS:
        raise HTTPException(404)
    params = request.query_params
    spec = KINDS[kind]
    return Query(
        kind,
        q=params.get("q", "")[:100],
        filters={f: params.get(f, "")[:100] for f in spec.filters if params.get(f)},
        sort=params.get("sort", "") if params.get("sort", "") in spec.sorts else spec.sorts[0],
        descending=params.get("order", "desc") != "asc",
        after=params.get("after", "")[:200],
    )


@router.get("/staff/{kind}")
async def list_page(
    request: Request, kind: str, member: Annotated[Staff, Depends(any_staff)]
) -> Response:
    query = _query(kind, request)
    engine = request.app.state.engine
    rows, after = await asyncio.to_thread(page, engine, query)
    filters = {f: await asyncio.to_thread(_choices, engine, kind, f) for f in KINDS[kind].filters}
    shared = {k: v for k, v in request.query_params.items() if k != "after"}
    return render(
        request, "staff/list.html", kind=kind, rows=rows, after=after, query=query,
        shown=SHOWN[kind], filters=filters, sorts=KINDS[kind].sorts, shared=shared,
    )  # fmt: skip


@router.get("/staff/{kind}/export.{fmt}")
async def export_list(
    request: Request, kind: str, fmt: str, member: Annotated[Staff, Depends(any_staff)]
) -> Response:
    """What the list shows (its search, filters and order), every page of it, streamed."""
    if fmt not in FORMATS:
        raise HTTPException(404)
    query = _query(kind, request)
    query = Query(query.kind, query.q, query.filters, query.sort, query.descending)
    engine = request.app.state.engine
    await asyncio.to_thread(
        audit.record, engine, actor=member.actor, action=f"export.{kind}",
        detail={"format": fmt, "q": query.q, "filters": query.filters},
    )  # fmt: skip
    return StreamingResponse(
        export(engine, query, fmt),
        media_type=media_type(fmt),
        headers={"content-disposition": f'attachment; filename="{kind}.{fmt}"'},
    )


@router.get("/staff/{kind}/{row_id}")
async def detail_page(
    request: Request, kind: str, row_id: int, member: Annotated[Staff, Depends(any_staff)]
) -> Response:
    if kind not in KINDS:
        raise HTTPException(404)
    row = await asyncio.to_thread(detail, request.app.state.engine, kind, row_id)
    if row is None:
        raise HTTPException(404)
    if member.role != "secretariat":  # no count per project before the ceremony (issue 17)
        row.pop("votes", None)
    return render(request, "staff/detail.html", kind=kind, row=row)
