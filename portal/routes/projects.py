"""Submitting a project to a prize contest, for a signed-in participant.

The contest's categories and word limits come with its submission window; the server counts
the words (a reader's count: zero-width and control characters are not words), the page's
live count is only a help.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from intake.prizes import ProjectForm, record_project
from intake.windows import Refused
from models.tables import WindowKind
from models.vocab import StakeholderType
from portal.deps import CsrfChecked, EngineDep, Me
from portal.forms import ProjectFields, validated
from portal.pages import render
from portal.routes.ocp import not_open
from portal.work import acknowledge, read, write
from reports.calendar import rules_of, window_of

router = APIRouter()


async def project_page(
    request: Request, engine: Engine, process_id: str, form: dict[str, Any], *,
    status: int = 200, **context: Any,
) -> Response:  # fmt: skip
    """The project form of contest ``process_id`` filled with ``form`` (new or edited)."""
    window = await read(window_of, process_id, WindowKind.PROJECT_SUBMISSIONS, engine)
    if window is None:
        return render(request, "error.html", status=404, problem="not-found")
    rules = await read(rules_of, process_id, WindowKind.PROJECT_SUBMISSIONS, engine)
    names = rules.names()
    categories = [(code, names.get(code, code)) for code in rules.categories]
    low, high = rules.description_words
    return render(
        request, "project_form.html", status=status, window=window, process_id=process_id,
        form=form, categories=categories, low=low, high=high, kinds=list(StakeholderType),
        **context,
    )  # fmt: skip


@router.get("/projects/{process_id}/new")
async def project_form(request: Request, process_id: str, me: Me, engine: EngineDep) -> Response:
    form = {
        "organization": me.organization,
        "country": me.country,
        "stakeholder_type": me.stakeholder_type,
    }
    return await project_page(request, engine, process_id, form, problems=[])


@router.post("/projects/{process_id}/new")
async def submit_project(
    request: Request,
    process_id: str,
    me: Me,
    _: CsrfChecked,
    engine: EngineDep,
    tasks: BackgroundTasks,
    fields: ProjectFields,
) -> Response:
    form, problems = validated(ProjectForm, fields)
    if form is None:
        return await project_page(
            request, engine, process_id, fields, status=400, problems=problems
        )
    try:
        project_id, ack = await write(request, record_project, process_id, form, engine)
    except Refused as refused:
        if refused.reason in ("unknown-category", "word-count"):
            return await project_page(
                request, engine, process_id, fields, status=400, problems=[], refused=refused
            )
        return not_open(request, refused)
    tasks.add_task(acknowledge, request, ack)
    return RedirectResponse(f"/received/project/{project_id}", status_code=303)
