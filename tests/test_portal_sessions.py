"""Sessions after the security review, through real HTTP: form tokens bound to the session
and renewed at sign-in and out (D8), __Host- cookies over https, idle limits and "keep me
signed in" (D9), signing out on every device, and the security events in the log."""

from __future__ import annotations

from datetime import timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import Settings
from devstack.catcher import MailCatcher
from models.tables import PortalSession
from tests.conftest import Portal
from tests.portal_flow import ask_for_link, page_token, sign_in_mail, token_of

_s = PortalSession.__table__  # type: ignore[attr-defined]


async def test_form_tokens_are_bound_to_the_session_and_renewed_at_sign_in_and_out(
    portal: Portal, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    address = participants[4]["email"]
    async with httpx.AsyncClient(base_url=portal.url) as browser:
        before = await page_token(browser, "/signin")
        seed = browser.cookies["wsis_csrf"]
        await ask_for_link(browser, address)
        link, _ = await sign_in_mail(mail, address)
        signed = await browser.post(link, data={"csrf": token_of((await browser.get(link)).text)})
        assert signed.status_code == 303 and browser.cookies["wsis_csrf"] != seed
        # A token from before signing in (or planted with a cookie of one's own) is refused.
        assert (await browser.post("/signout", data={"csrf": before})).status_code == 403
        now = await page_token(browser, "/me")
        assert (await browser.post("/signout", data={"csrf": now})).status_code == 303
        assert (await browser.post("/signout", data={"csrf": now})).status_code == 403


async def test_https_cookies_are_host_prefixed(settings: Settings, engine: Engine) -> None:
    from pydantic import SecretStr

    from portal.app import create_app

    app = create_app(
        settings.model_copy(update={"portal_url": "https://wsis.example.org",
                                    "portal_secret": SecretStr("s" * 48)}),
        engine,
    )  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://wsis.example.org") as c:
        page = await c.get("/signin")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-wsis_csrf=") and "Secure" in cookie
        assert "Path=/" in cookie and "Domain" not in cookie
        asked = await c.post(
            "/signin", data={"email": "x@example.org", "csrf": token_of(page.text)}
        )
        assert "__Host-wsis_pending=" in asked.headers["set-cookie"]


async def test_sessions_end_when_idle_and_may_be_kept_for_30_days(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    address = participants[5]["email"]
    for keep in (False, True):
        async with httpx.AsyncClient(base_url=portal.url) as browser:
            await ask_for_link(browser, address)
            link, _ = await sign_in_mail(mail, address, seen=int(keep))
            page = await browser.get(link)
            data = {"csrf": token_of(page.text), **({"keep": "yes"} if keep else {})}
            signed = await browser.post(link, data=data)
            cookie = next(
                c for c in signed.headers.get_list("set-cookie") if c.startswith("wsis_session=")
            )
            if keep:
                assert "Max-Age=2592000" in cookie
            else:
                assert "Max-Age" not in cookie and "expires" not in cookie.lower()
            assert (await browser.get("/me")).status_code == 200
            if keep:  # three idle hours end a browser session, not a kept one
                with engine.begin() as conn:
                    conn.execute(_s.delete().where(_s.c.idle_seconds < 86400))
                    for row in conn.execute(sa.select(_s.c.id_hash, _s.c.idle_until)).all():
                        conn.execute(
                            _s.update()
                            .where(_s.c.id_hash == row.id_hash)
                            .values(idle_until=row.idle_until - timedelta(hours=3))
                        )
                assert (await browser.get("/me")).status_code == 200
            # Two idle hours later (a browser session) or eight idle days (a kept one).
            idle = timedelta(days=8) if keep else timedelta(hours=2, minutes=1)
            with engine.begin() as conn:
                for row in conn.execute(sa.select(_s.c.id_hash, _s.c.idle_until)).all():
                    conn.execute(
                        _s.update()
                        .where(_s.c.id_hash == row.id_hash)
                        .values(idle_until=row.idle_until - idle)
                    )
            assert (await browser.get("/me")).headers.get("location") == "/signin"


async def test_authentication_and_access_decisions_are_logged_without_secrets(
    portal: Portal, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    """ASVS 7.1.3 and 7.2: refused forms, wrong codes, sign-ins and sign-outs are named
    events with the route and network, and no address, token or code."""
    import structlog

    address = participants[6]["email"]
    with structlog.testing.capture_logs() as events:
        async with httpx.AsyncClient(base_url=portal.url) as browser:
            await browser.post("/signin", data={"email": address, "csrf": "forged"})
            asked = await ask_for_link(browser, address)
            link, code = await sign_in_mail(mail, address)
            csrf = token_of(asked.text)
            await browser.post("/signin/code", data={"code": "AAAA-AAAA", "csrf": csrf})
            await browser.post(link, data={"csrf": token_of((await browser.get(link)).text)})
            await browser.post("/signout", data={"csrf": await page_token(browser, "/me")})
    named = [e["event"] for e in events if e["event"].startswith("security.")]
    assert named == [
        "security.csrf_refused", "security.signin_refused", "security.signed_in",
        "security.signed_out",
    ]  # fmt: skip
    logged = "\n".join(str(e) for e in events)
    for secret in (address, link.rsplit("/", 1)[1], code):
        assert secret not in logged


async def test_sign_out_on_every_device(
    portal: Portal, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    """ASVS 3.3.4: a participant ends the sessions of every browser they signed in with."""
    address = participants[2]["email"]
    browsers = [httpx.AsyncClient(base_url=portal.url) for _ in range(2)]
    try:
        for seen, browser in enumerate(browsers):
            await ask_for_link(browser, address)
            link, _ = await sign_in_mail(mail, address, seen=seen)
            await browser.post(link, data={"csrf": token_of((await browser.get(link)).text)})
            assert (await browser.get("/me")).status_code == 200
        laptop = browsers[0]
        csrf = await page_token(laptop, "/preferences")
        assert (await laptop.post("/signout/everywhere", data={"csrf": csrf})).status_code == 303
        for browser in browsers:
            assert (await browser.get("/me")).headers.get("location") == "/signin"
    finally:
        for browser in browsers:
            await browser.aclose()
