"""Staff sign-in: the portal's e-mailed link (the same tokens, ``intake.accounts``), then a
code from an authenticator app (TOTP), enrolled with a QR code at the first sign-in.

Asking for a link answers the same page whether the address is a staff account or not; the
link's GET only shows a button (mail scanners open links). A session that has passed the
link but not the second factor reaches no page but the second factor's.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse, Response

from intake.accounts import LINK_LIFETIME, SignInFailed, consume_link, request_sign_in
from intake.participants import normalize_email
from mail.transactional import send_now
from models.wire import MessageKind
from portal.guards import throttled
from portal.pages import secure
from portal.staff.auth import STAFF_COOKIE, StaffSignInRequired, checked_form, session_of
from portal.staff.pages import render
from services import audit, staff

router = APIRouter()
Text = Annotated[str, Form()]


@router.get("/staff/signin")
async def signin_page(request: Request) -> Response:
    return render(request, "staff/signin.html")


@router.post("/staff/signin")
async def ask_for_link(
    request: Request, tasks: BackgroundTasks, email: Text = "", csrf: Text = ""
) -> Response:
    await checked_form(request, csrf)
    try:
        address = normalize_email(email)
    except ValueError:
        return render(request, "staff/signin.html", status=400, problem=True)
    await throttled(request, address)
    app = request.app.state
    member = await asyncio.to_thread(staff.find, app.engine, address=address)
    if member is not None:  # only a staff account gets a link; every one sees the same page
        issued = await asyncio.to_thread(
            request_sign_in, app.engine, address, app.settings.portal_key()
        )
        if issued.recipient is not None:
            tasks.add_task(
                send_now,
                MessageKind.SIGN_IN_LINK,
                issued.recipient,
                app.settings,
                title="WSIS",
                extra={
                    "link": f"{app.settings.portal_url}/staff/signin/link/{issued.token}",
                    "code": issued.code,
                    "minutes": int(LINK_LIFETIME.total_seconds() // 60),
                },
            )
    return render(request, "staff/signin_sent.html")


@router.get("/staff/signin/link/{token}")
async def link_page(request: Request, token: str) -> Response:
    """Only a button: opening the link uses nothing."""
    return render(request, "staff/signin_confirm.html", token=token)


@router.post("/staff/signin/link/{token}")
async def sign_in_with_link(request: Request, token: str, csrf: Text = "") -> Response:
    await checked_form(request, csrf)
    app = request.app.state
    try:
        participant_id = await asyncio.to_thread(
            consume_link, app.engine, token, app.settings.portal_key()
        )
    except SignInFailed:
        return render(request, "staff/signin.html", status=400, failed=True)
    member = await asyncio.to_thread(staff.for_participant, app.engine, participant_id)
    if member is None:  # a participant's link: the console is not theirs
        return render(request, "staff/signin.html", status=400, failed=True)
    old = request.cookies.get(STAFF_COOKIE)
    if old:
        await asyncio.to_thread(staff.close_session, app.engine, old, app.settings.portal_key())
    session_id = await asyncio.to_thread(
        staff.open_session, app.engine, member.id, app.settings.portal_key()
    )
    response = RedirectResponse("/staff/second-factor", status_code=303)
    response.set_cookie(
        STAFF_COOKIE, session_id, httponly=True, samesite="strict", secure=secure(request),
        path="/staff",
    )  # fmt: skip
    return response


async def _half_signed_in(request: Request) -> staff.SignedIn:
    signed = await session_of(request)
    if signed is None:
        raise StaffSignInRequired()
    request.state.staff = signed.staff
    return signed


@router.get("/staff/second-factor")
async def second_factor_page(request: Request) -> Response:
    signed = await _half_signed_in(request)
    if signed.complete:
        return RedirectResponse("/staff/", status_code=303)
    return await _second_factor(request, signed.staff)


async def _second_factor(request: Request, member: staff.Staff, status: int = 200) -> Response:
    qr = secret = None
    if not member.enrolled:
        engine = request.app.state.engine
        key = request.app.state.settings.portal_key()
        secret = await asyncio.to_thread(staff.enrolment_secret, engine, member.id, key)
        qr = staff.enrolment_qr(secret, member.email)
    return render(
        request, "staff/second_factor.html", status=status, qr=qr, secret=secret,
        wrong=status != 200,
    )  # fmt: skip


@router.post("/staff/second-factor")
async def give_second_factor(request: Request, code: Text = "", csrf: Text = "") -> Response:
    await checked_form(request, csrf)
    signed = await _half_signed_in(request)
    engine = request.app.state.engine
    await throttled(request, f"staff-code:{signed.staff.id}")
    key = request.app.state.settings.portal_key()
    if not await asyncio.to_thread(staff.check_code, engine, signed.staff.id, code, key):
        return await _second_factor(request, signed.staff, status=400)
    await asyncio.to_thread(
        staff.second_factor_given,
        engine,
        request.cookies.get(STAFF_COOKIE, ""),
        key,
    )
    await asyncio.to_thread(audit.record, engine, actor=signed.staff.actor, action="staff.sign-in")
    return RedirectResponse("/staff/", status_code=303)


@router.post("/staff/signout")
async def sign_out(request: Request, csrf: Text = "") -> Response:
    await checked_form(request, csrf)
    session_id = request.cookies.get(STAFF_COOKIE)
    if session_id:
        app = request.app.state
        key = app.settings.portal_key()
        await asyncio.to_thread(staff.close_session, app.engine, session_id, key)
    response = RedirectResponse("/staff/signin", status_code=303)
    response.delete_cookie(STAFF_COOKIE, path="/staff")
    return response
