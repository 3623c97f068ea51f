"""The signed-in participant's own pages: where to go next, and their preferences (their
name as e-mails greet them, their language, whether they take announcements)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from intake.fields import PersonName
from intake.preferences import set_preferences
from mail.inbound.standing import standing_of
from models.vocab import Language
from portal.deps import CsrfChecked, EngineDep, Me
from portal.pages import LANGUAGE_COOKIE, render
from portal.work import read, write

router = APIRouter()
Text = Annotated[str, Form()]
_NAME: TypeAdapter[str] = TypeAdapter(PersonName)


@router.get("/me")
async def my_page(request: Request, me: Me, engine: EngineDep) -> Response:
    assert me.id is not None  # a suspension of their announcements (mail.inbound) is shown
    standing = await read(standing_of, engine, me.id)
    return render(request, "me.html", mail_suspended=bool(standing and standing.suspended_at))


@router.get("/preferences")
async def preferences_page(request: Request, me: Me) -> Response:
    return render(request, "preferences.html", saved=False, name=me.name)


@router.post("/preferences")
async def save_preferences(
    request: Request, me: Me, _: CsrfChecked, engine: EngineDep,
    language: Text = "", subscribed: Text = "", name: Text = "",
) -> Response:  # fmt: skip
    """Their name, the language of their mail and pages, and whether they take
    announcements."""
    chosen = Language(language) if language in {lang.value for lang in Language} else me.language
    try:
        corrected = _NAME.validate_python(name) if name.strip() else None
    except ValidationError:
        return render(request, "preferences.html", status=400, saved=False, name=name,
                      problems=["name"])  # fmt: skip
    assert me.id is not None
    await write(
        request, set_preferences, engine, me.id, Language(chosen), subscribed == "yes", corrected
    )
    response = RedirectResponse("/preferences?saved=1", status_code=303)
    response.delete_cookie(LANGUAGE_COOKIE)  # their preference now speaks for them
    return response
