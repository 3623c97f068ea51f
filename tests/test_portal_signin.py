"""The portal's front door through real HTTP: sign-up, e-mailed links and codes, sessions,
CSRF, throttling, one-click unsubscribe. The portal runs under uvicorn on loopback, mail
arrives at a real SMTP server, the database is a SQLite file."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import pytest_asyncio
import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from intake.accounts import keyed, request_sign_in
from intake.tokens import stored
from intake.votes import Ballot, cast_votes
from models.tables import Participant, Project, SignInToken, Window
from tests.conftest import Portal
from tests.portal_flow import (
    NEW,
    ask_for_link,
    page_token,
    sign_in_mail,
    sign_up,
    token_of,
)


@pytest_asyncio.fixture
async def browser(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    """A browser: it keeps its cookies and does not follow redirects by itself."""
    async with httpx.AsyncClient(base_url=portal.url, follow_redirects=False) as client:
        yield client


def verified_at(engine: Engine, address: str) -> datetime | None:
    with engine.connect() as conn:
        found: datetime | None = conn.execute(
            sa.select(Participant.verified_at).where(Participant.email == address)  # type: ignore[call-overload]
        ).scalar_one()
    return found


async def test_sign_up_then_scanners_then_a_person_signs_in(
    portal: Portal, browser: httpx.AsyncClient, mail: MailCatcher, engine: Engine
) -> None:
    answer = await sign_up(browser)
    assert answer.status_code == 200 and "If this address can take part" in answer.text
    link, _ = await sign_in_mail(mail, NEW)
    assert link.startswith(portal.url)  # built from the setting, never from the Host header
    assert verified_at(engine, NEW) is None

    # Two mail scanners open the link (no cookies, no form): nothing is used up.
    for _ in range(2):
        async with httpx.AsyncClient() as scanner:
            seen = await scanner.get(link)
        assert seen.status_code == 200 and "Press the button" in seen.text
    confirm = await browser.get(link)
    signed = await browser.post(link, data={"csrf": token_of(confirm.text)})
    assert signed.status_code == 303 and signed.headers["location"] == "/me"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "wsis_session=" in cookie
    me = await browser.get("/me")
    assert me.status_code == 200 and "Welcome, <bdi>Nadia Rahman</bdi>" in me.text
    assert verified_at(engine, NEW) is not None  # the first sign-in verifies

    # The same link again: used. (The page's form token is bound to the session it was
    # issued in: the one from before signing in is refused now.)
    stale = await browser.post(link, data={"csrf": token_of(confirm.text)})
    assert stale.status_code == 403
    again = await browser.post(link, data={"csrf": token_of((await browser.get(link)).text)})
    assert again.status_code == 400 and "already been used" in again.text
    assert 'action="/signin"' in again.text  # and the page offers a new one


async def test_expired_foreign_and_tampered_links_are_refused_with_a_new_link_offered(
    portal: Portal, browser: httpx.AsyncClient, mail: MailCatcher, engine: Engine,
    participants: list[dict[str, str]],
) -> None:  # fmt: skip
    address = participants[0]["email"]
    key = portal.settings.portal_key()
    old = request_sign_in(engine, address, key, now=datetime.now(UTC) - timedelta(minutes=21))
    await ask_for_link(browser, address)
    good, _ = await sign_in_mail(mail, address)
    foreign = request_sign_in(engine, address, key)
    with engine.begin() as conn:
        conn.execute(
            sa.update(SignInToken)
            .where(SignInToken.token_hash == stored(key, "signin", foreign.token))  # type: ignore[arg-type]
            .values(purpose="change-address")
        )
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    for token, why in (
        (old.token, "has expired"),
        (foreign.token, "has expired"),
        (tampered.rsplit("/", 1)[1], "is not valid"),
    ):
        csrf = await page_token(browser, f"/signin/link/{token}")
        refused = await browser.post(f"/signin/link/{token}", data={"csrf": csrf})
        assert refused.status_code == 400 and why in refused.text, why
        assert "Send me a new link" in refused.text
    assert "wsis_session" not in browser.cookies
    assert keyed(key, address) != address  # the stored address hash is keyed


async def test_the_code_signs_in_the_browser_that_asked_and_only_a_few_tries(
    portal: Portal, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    address = participants[1]["email"]
    async with httpx.AsyncClient(base_url=portal.url) as laptop:
        await ask_for_link(laptop, address)
        _, code = await sign_in_mail(mail, address)
        csrf = await page_token(laptop, "/signin")
        # Another browser with the code but not the request: nothing to sign in to.
        async with httpx.AsyncClient(base_url=portal.url) as other:
            other_csrf = await page_token(other, "/signin")
            stray = await other.post("/signin/code", data={"code": code, "csrf": other_csrf})
            assert stray.status_code == 400 and "wsis_session" not in other.cookies
        typed = code.lower().replace("-", " ")  # as a person types it
        done = await laptop.post("/signin/code", data={"code": typed, "csrf": csrf})
        assert done.status_code == 303 and done.headers["location"] == "/me"
        csrf = await page_token(laptop, "/signin")  # form tokens are bound to the session

        await ask_for_link(laptop, address)
        await sign_in_mail(mail, address, seen=1)
        answers = [
            await laptop.post("/signin/code", data={"code": "AAAA-AAAA", "csrf": csrf})
            for _ in range(6)
        ]
        assert [a.status_code for a in answers] == [400] * 6
        assert "not the one we sent" in answers[0].text
        assert "too many times" in answers[-1].text


async def test_an_unknown_address_gets_the_same_answer_and_no_mail(
    browser: httpx.AsyncClient, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    known = await ask_for_link(browser, participants[2]["email"])
    await sign_in_mail(mail, participants[2]["email"])
    unknown = await ask_for_link(browser, "nobody@example.org")
    assert unknown.status_code == known.status_code == 200
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", unknown.text) == strip.sub("", known.text)
    await asyncio.sleep(0.5)
    assert not [m for m in mail.received if "nobody@example.org" in m.recipients]


async def test_forms_need_their_token_and_sign_in_requests_are_throttled(
    portal: Portal, browser: httpx.AsyncClient, participants: list[dict[str, str]]
) -> None:
    address = participants[3]["email"]
    missing = await browser.post("/signin", data={"email": address})
    assert missing.status_code == 403 and "This form has expired" in missing.text
    forged = await browser.post("/signin", data={"email": address, "csrf": "0" * 64})
    assert forged.status_code == 403
    limit = portal.settings.signin_per_address
    answers = [await ask_for_link(browser, address) for _ in range(limit + 1)]
    assert [a.status_code for a in answers[:-1]] == [200] * limit
    assert answers[-1].status_code == 429 and "Too many requests" in answers[-1].text
    assert int(answers[-1].headers["retry-after"]) > 0


async def test_signing_out_ends_the_session_on_the_server(
    browser: httpx.AsyncClient, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    address = participants[4]["email"]
    await ask_for_link(browser, address)
    link, _ = await sign_in_mail(mail, address)
    confirm = await browser.get(link)
    await browser.post(link, data={"csrf": token_of(confirm.text)})
    session = browser.cookies["wsis_session"]
    me = await browser.get("/me")
    out = await browser.post("/signout", data={"csrf": token_of(me.text)})
    assert out.status_code == 303
    async with httpx.AsyncClient(base_url=str(browser.base_url)) as replay:
        replay.cookies.set("wsis_session", session)
        assert (await replay.get("/me")).status_code == 303  # the old cookie opens nothing


async def test_every_response_carries_the_security_headers_and_big_bodies_are_refused(
    browser: httpx.AsyncClient,
) -> None:
    home = await browser.get("/")
    policy = home.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert home.headers["referrer-policy"] == "no-referrer"
    assert home.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in home.headers  # http here; https sets it
    try:
        big = await browser.post("/signin", content=b"x" * 2_000_000)
        assert big.status_code == 413
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
        pass  # refused and closed before the upload ended, as servers do
    assert (await browser.get("/")).status_code == 200  # and the portal is still there


async def test_only_a_verified_participant_votes(
    portal: Portal, browser: httpx.AsyncClient, mail: MailCatcher, engine: Engine
) -> None:
    await sign_up(browser)  # registered, not verified yet
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Window).values(
                process_id="p-verified", kind="voting", title="WSIS Prizes",
                opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=1),
                timezone="Europe/Zurich", state="open", rules_json="{}", revision=0,
            )
        )  # fmt: skip
        project = conn.execute(
            sa.insert(Project).values(
                process_id="p-verified", category="C1", title="T", title_key="t",
                description="d", owner_id=1, organization="", stakeholder_type="Government",
                country="Chile", submitted_at=now, status="nominated",
            )
        ).inserted_primary_key  # fmt: skip
    assert project is not None
    [refused] = cast_votes("p-verified", [Ballot(NEW, "C1", project[0])], engine)
    assert refused is not None and "sign in once on the portal" in refused
    link, _ = await sign_in_mail(mail, NEW)
    confirm = await browser.get(link)
    await browser.post(link, data={"csrf": token_of(confirm.text)})
    assert cast_votes("p-verified", [Ballot(NEW, "C1", project[0])], engine) == [None]


async def test_links_ignore_the_host_header_and_logs_name_no_address_or_token(
    portal: Portal, mail: MailCatcher, participants: list[dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    address = participants[5]["email"]
    caplog.set_level("INFO")
    with structlog.testing.capture_logs() as events:
        async with httpx.AsyncClient(base_url=portal.url, headers={"host": "evil.example"}) as liar:
            csrf = await page_token(liar, "/signin")
            await liar.post("/signin", data={"email": address, "csrf": csrf})
            link, code = await sign_in_mail(mail, address)
            assert link.startswith(portal.url) and "evil.example" not in link
            page = await liar.get(link)
            await liar.post(link, data={"csrf": token_of(page.text)})
    token = link.rsplit("/", 1)[1]
    portal_lines = [str(e) for e in events] + [
        f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith("uvicorn")
    ]
    logged = "\n".join(portal_lines)
    assert "/signin/link/{token}" in logged  # the route's template, logged per request
    for secret in (address, token, code):
        assert secret not in logged


async def test_preferences_change_the_language_and_the_subscription(
    browser: httpx.AsyncClient, mail: MailCatcher, engine: Engine,
    participants: list[dict[str, str]],
) -> None:  # fmt: skip
    address = participants[6]["email"]
    assert (await browser.get("/preferences")).headers["location"] == "/signin"
    await ask_for_link(browser, address)
    link, _ = await sign_in_mail(mail, address)
    page = await browser.get(link)
    await browser.post(link, data={"csrf": token_of(page.text)})
    form = await browser.get("/preferences")
    saved = await browser.post(
        "/preferences", data={"language": "ar", "csrf": token_of(form.text)}
    )  # no "subscribed": the box was unticked
    assert saved.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(Participant.language, Participant.unsubscribed).where(  # type: ignore[call-overload]
                Participant.email == address
            )
        ).one()
    assert (row.language, row.unsubscribed) == ("ar", True)
    again = await browser.get("/preferences?saved=1")
    assert again.headers["content-language"] == "ar"  # the portal catalog is complete
    assert '<html lang="ar" dir="rtl">' in again.text and "تم حفظ تفضيلاتكم." in again.text
