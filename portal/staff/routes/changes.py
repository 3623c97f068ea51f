"""Changes to a running cycle, with a confirmation step: deadline, meeting, ceremony, Forum,
cancel. The internal reason goes to the audit log and the history; the public notice (per
language, English for the others, said so) is what participants read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from core.i18n import LANGUAGES
from portal.staff.auth import checked_form, secretariat
from portal.staff.pages import render
from services import changes, glance
from services.errors import Refused
from services.prepared import KINDS, Prepared, prepare
from services.staff import Staff

router = APIRouter()
FIELDS = ("kind", "cycle", "process", "deadline", "to", "meeting", "starts", "venue", "ends",
          "notify", "reason")  # fmt: skip


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    form = {k: str(data.get(k, ""))[:2000] for k in (*FIELDS, "csrf")}
    for lang in LANGUAGES:
        form[f"notice_{lang}"] = str(data.get(f"notice_{lang}", ""))[:2000]
        form[f"venue_{lang}"] = str(data.get(f"venue_{lang}", ""))[:2000]  # a meeting's
    await checked_form(request, form["csrf"])
    return form


def _notice(form: dict[str, str]) -> dict[str, str]:
    return {lang: form[f"notice_{lang}"] for lang in LANGUAGES if form[f"notice_{lang}"].strip()}


def _prepared(form: dict[str, str], member: Staff) -> Prepared:
    return prepare(
        form["kind"], form["cycle"], form, actor=member.actor, reason=form["reason"],
        notice=_notice(form),
    )  # fmt: skip


async def _page(
    request: Request, form: dict[str, str], problem: str = "", status: int = 200
) -> Response:
    try:
        known = await glance.cycles(request.app.state.settings)
    except RuntimeError:
        known = []
    return render(
        request, "staff/changes.html", status=status, form=form, problem=problem,
        cycles=known, kinds=KINDS, languages_all=LANGUAGES,
    )  # fmt: skip


@router.get("/staff/changes")
async def changes_page(
    request: Request, member: Annotated[Staff, Depends(secretariat)]
) -> Response:
    return await _page(request, {"kind": request.query_params.get("kind", "deadline")})


@router.post("/staff/changes/confirm")
async def confirm(request: Request, member: Annotated[Staff, Depends(secretariat)]) -> Response:
    """The change as it will be sent, and who reads the notice in which language."""
    form = await _form(request)
    try:
        prepared = _prepared(form, member)
    except Refused as exc:
        return await _page(request, form, exc.message, status=400)
    notice = _notice(form)
    return render(
        request, "staff/change_confirm.html", form=form, prepared=prepared,
        change=_shown(prepared.change), notice=notice,
        fallback=changes.fallback_languages(notice), languages_all=LANGUAGES,
    )  # fmt: skip


def _shown(change: Any) -> dict[str, Any]:
    shown: dict[str, Any] = change.model_dump(
        exclude={"requested_by", "notice", "moved"}, exclude_none=True
    )
    return shown


@router.post("/staff/changes/apply")
async def apply(request: Request, member: Annotated[Staff, Depends(secretariat)]) -> Response:
    form = await _form(request)
    try:
        prepared = _prepared(form, member)
        outcomes = await changes.apply(prepared, request.app.state.settings)
    except Refused as exc:
        return await _page(request, form, exc.message, status=400)
    except RuntimeError:
        return await _page(request, form, "temporal", status=503)
    return render(request, "staff/change_done.html", outcomes=outcomes, prepared=prepared)
