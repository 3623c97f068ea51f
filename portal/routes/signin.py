"""Sign up, ask for a sign-in link, sign in with the link or its code, sign out.

The link's GET only shows a page with a button: corporate mail scanners (Safe Links,
Proofpoint) open every link in a message, so only the POST uses the token. Whether an
address is known or not, asking for a link answers the same page and takes the same path
through this code up to the mail itself, which only a known address gets.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from core.settings import Settings
from intake.accounts import (
    LINK_LIFETIME,
    SignInFailed,
    SignInRequest,
    SignUpForm,
    consume_code,
    consume_link,
    request_sign_in,
    sign_up,
)
from intake.participants import normalize_email
from intake.privacy import record_consent
from mail.transactional import send_now
from models.vocab import Language, StakeholderType
from models.wire import MessageKind
from portal.deps import CsrfChecked, EngineDep, Key, Me, SettingsDep, Viewer
from portal.guards import throttled
from portal.pages import render, secure
from portal.security import cookie_name, security_event
from portal.session import end_session, start_session
from portal.work import write

router = APIRouter()
PENDING_COOKIE = "wsis_pending"
SENT_PAGE = "/signin/sent"
_sending: set[asyncio.Task[bool]] = set()  # sign-in messages on their way
Text = Annotated[str, Form()]


@router.get("/signin")
async def signin_page(request: Request, _: Viewer) -> Response:
    return render(request, "signin.html")


@router.get("/signup")
async def signup_page(request: Request, _: Viewer) -> Response:
    return render(request, "signup.html", form={}, kinds=list(StakeholderType), problems=[])


def _sent(request: Request, settings: Settings, issued: SignInRequest) -> Response:
    """The one answer to every request for a link: a redirect to the page that says it was
    sent (post/redirect/get: reloading that page asks for nothing again); the mail goes out
    after it."""
    if issued.recipient is not None:
        # Sent apart from the request, not as its background task: the connection would
        # otherwise wait for the mail before serving the page it redirects to, and a known
        # address would be told from an unknown one by that wait.
        sending = asyncio.create_task(
            send_now(
                MessageKind.SIGN_IN_LINK,
                issued.recipient,
                settings,
                title="WSIS",
                extra={
                    "link": f"{settings.portal_url}/signin/link/{issued.token}",
                    "code": issued.code,
                    "minutes": int(LINK_LIFETIME.total_seconds() // 60),
                },
            )
        )
        _sending.add(sending)  # kept until done (the loop keeps only weak references)
        sending.add_done_callback(_sending.discard)
    response = RedirectResponse(SENT_PAGE, status_code=303)
    response.set_cookie(
        cookie_name(request, PENDING_COOKIE), issued.pending,
        max_age=int(LINK_LIFETIME.total_seconds()), httponly=True, samesite="lax",
        secure=secure(request), path="/",
    )  # fmt: skip
    return response


@router.get(SENT_PAGE)
async def sent_page(request: Request, _: Viewer) -> Response:
    """Where a request for a link leads: the page with the code's form, while the request is
    pending (its cookie); without one, the page to ask for a link."""
    if not request.cookies.get(cookie_name(request, PENDING_COOKIE)):
        return RedirectResponse("/signin", status_code=303)
    return render(request, "signin_sent.html")


@router.post("/signin")
async def ask_for_link(
    request: Request, _: CsrfChecked, engine: EngineDep, key: Key,
    settings: SettingsDep, email: Text = "",
) -> Response:  # fmt: skip
    try:
        address = normalize_email(email)
    except ValueError:
        return render(request, "signin.html", status=400, problem="address", email=email)
    await throttled(request, address)
    issued = await write(request, request_sign_in, engine, address, key)
    return _sent(request, settings, issued)


@router.post("/signup")
async def sign_up_and_ask(
    request: Request,
    _: CsrfChecked,
    engine: EngineDep,
    key: Key,
    settings: SettingsDep,
    name: Text = "",
    organization: Text = "",
    country: Text = "",
    stakeholder_type: Text = "",
    language: Text = "",
    email: Text = "",
    consent: Text = "",
) -> Response:
    fields = {
        "name": name,
        "organization": organization,
        "country": country,
        "stakeholder_type": stakeholder_type or StakeholderType.OTHER.value,
        "language": language or Language.EN.value,
        "email": email,
    }
    problems = [] if consent == "yes" else ["consent"]  # the privacy notice, accepted
    try:
        form = SignUpForm.model_validate(fields)
    except ValidationError as exc:
        problems += sorted({str(e["loc"][0]) for e in exc.errors()})
    if problems:
        return render(
            request, "signup.html", status=400, form={**fields, "consent": consent},
            kinds=list(StakeholderType), problems=problems,
        )  # fmt: skip
    await throttled(request, form.email)
    now = datetime.now(UTC)
    issued = await write(request, sign_up, engine, form, key, now=now)
    await write(request, record_consent, engine, form.email, now)  # the row made just now
    return _sent(request, settings, issued)


@router.get("/signin/link/{token}")
async def link_page(request: Request, token: str, _: Viewer) -> Response:
    """Only a page with a button: opening the link (as a scanner does) uses nothing."""
    return render(request, "signin_confirm.html", token=token)


def _failed(request: Request, failure: SignInFailed) -> Response:
    security_event(request, "signin_refused", reason=failure.reason)
    return render(request, "signin_failed.html", status=400, reason=failure.reason)


@router.post("/signin/link/{token}")
async def sign_in_with_link(
    request: Request, token: str, _: CsrfChecked, engine: EngineDep, key: Key, keep: Text = ""
) -> Response:
    try:
        participant_id = await write(request, consume_link, engine, token, key)
    except SignInFailed as failure:
        return _failed(request, failure)
    return await start_session(request, participant_id, "/me", keep=keep == "yes")


@router.post("/signin/code")
async def sign_in_with_code(
    request: Request, _: CsrfChecked, engine: EngineDep, key: Key, code: Text = "",
    keep: Text = "",
) -> Response:  # fmt: skip
    pending = request.cookies.get(cookie_name(request, PENDING_COOKIE), "")
    try:
        if not pending:
            raise SignInFailed("expired")
        participant_id = await write(request, consume_code, engine, pending, code, key)
    except SignInFailed as failure:
        if failure.reason == "wrong-code":
            security_event(request, "signin_refused", reason=failure.reason)
            return render(request, "signin_sent.html", status=400, wrong_code=True)
        return _failed(request, failure)
    response = await start_session(request, participant_id, "/me", keep=keep == "yes")
    response.delete_cookie(cookie_name(request, PENDING_COOKIE), path="/", secure=secure(request))
    return response


@router.post("/signout")
async def sign_out(request: Request, _: CsrfChecked) -> Response:
    response = await end_session(request)
    response.headers["location"] = "/signed-out"  # a page that says so (portal/routes/public)
    return response


@router.post("/signout/everywhere")
async def sign_out_everywhere(request: Request, me: Me, _: CsrfChecked) -> Response:
    """Every session of the participant ends: a browser left signed in elsewhere too."""
    assert me.id is not None
    response = await end_session(request, everywhere=me.id)
    response.headers["location"] = "/signed-out"
    return response
