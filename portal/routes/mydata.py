"""A participant's own data (the privacy notice's promises): edit the profile, download
everything kept (JSON), delete the account. Every successful POST redirects (a reload never
sends it again)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from intake.privacy import Profile, erase_participant, my_data, update_profile
from models.vocab import StakeholderType
from portal.deps import CsrfChecked, EngineDep, Me
from portal.pages import render
from portal.security import SESSION_COOKIE, cookie_name
from portal.work import read, write

router = APIRouter()
Text = Annotated[str, Form(max_length=1000)]


@router.get("/my/profile")
async def profile_page(request: Request, me: Me) -> Response:
    form = {k: getattr(me, k) for k in ("name", "organization", "country")}
    form["stakeholder_type"] = str(me.stakeholder_type)
    return render(request, "profile.html", form=form, kinds=list(StakeholderType), problems=[])


@router.post("/my/profile")
async def save_profile(
    request: Request,
    me: Me,
    _: CsrfChecked,
    engine: EngineDep,
    name: Text = "",
    organization: Text = "",
    country: Text = "",
    stakeholder_type: Text = "",
) -> Response:
    fields = {"name": name.strip(), "organization": organization.strip(),
              "country": country.strip(), "stakeholder_type": stakeholder_type}  # fmt: skip
    try:
        profile = Profile.model_validate(fields)
    except ValidationError as exc:
        problems = sorted({str(e["loc"][0]) for e in exc.errors()})
        return render(
            request, "profile.html", status=400, form=fields, kinds=list(StakeholderType),
            problems=problems,
        )  # fmt: skip
    assert me.id is not None
    await write(request, update_profile, engine, me.id, profile)
    return RedirectResponse("/my/profile?saved=1", status_code=303)


@router.get("/my/data.json")
async def download(request: Request, me: Me, engine: EngineDep) -> Response:
    """Everything the portal keeps about the participant, as one JSON file."""
    assert me.id is not None
    data = await read(my_data, engine, me.id)
    body = json.dumps(data, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={
            "content-disposition": 'attachment; filename="my-wsis-data.json"',
            "cache-control": "no-store",
        },
    )


@router.get("/my/delete")
async def delete_page(request: Request, me: Me) -> Response:
    return render(request, "delete.html")


@router.post("/my/delete")
async def delete_account(request: Request, me: Me, _: CsrfChecked, engine: EngineDep) -> Response:
    """Erase the account (intake.privacy.erase_participant): its sessions end with it."""
    assert me.id is not None
    await write(request, erase_participant, engine, me.id)
    response = RedirectResponse("/account-deleted", status_code=303)
    response.delete_cookie(cookie_name(request, SESSION_COOKIE), path="/")
    return response


@router.get("/account-deleted")
async def deleted(request: Request) -> Response:
    return render(request, "deleted.html")
