"""Accounts after the security review, through real HTTP: a sign-up is nobody's address until
its first sign-in (D1, D3), the code form tells nothing about an address (D2), the one-click
unsubscribe needs its body (D7), secrets are kept as keyed hashes, and what has expired is
purged by every portal process (D9). Sessions: tests/test_portal_sessions.py."""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.accounts import SignUpForm, request_sign_in, sign_up
from intake.purge import purge_expired
from intake.sessions import open_session
from intake.tokens import digest
from mail.audience import audience_select
from mail.outbox import deliver, enqueue
from models.tables import Participant, PortalSession, SignInToken
from models.wire import Audience, CampaignRequest, MessageKind
from reports.status import registry_size
from tests.conftest import Portal
from tests.helpers import assert_eventually
from tests.portal_flow import NEW, ask_for_link, page_token, sign_in_mail, token_of
from tests.portal_flow import sign_up as sign_up_page

_p = Participant.__table__  # type: ignore[attr-defined]
_s = PortalSession.__table__  # type: ignore[attr-defined]
_t = SignInToken.__table__  # type: ignore[attr-defined]


def everyone(engine: Engine, settings: Settings) -> set[int]:
    request = CampaignRequest(
        key="k", process_id="p", kind=MessageKind.OCP_OPENING, audience=Audience.EVERYONE,
        title="t", timezone="Europe/Zurich",
    )  # fmt: skip
    with engine.connect() as conn:
        return set(conn.execute(audience_select(request, settings)).scalars())


def participant_id(engine: Engine, address: str) -> int | None:
    with engine.connect() as conn:
        found: int | None = conn.execute(sa.select(_p.c.id).where(_p.c.email == address)).scalar()
    return found


async def test_a_sign_up_is_nobodys_address_until_its_first_sign_in(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    before = registry_size(engine)
    async with httpx.AsyncClient(base_url=portal.url) as browser:
        assert (await sign_up_page(browser)).status_code == 200
        new = participant_id(engine, NEW)
        assert new is not None and new not in everyone(engine, portal.settings)
        assert registry_size(engine) == before  # not counted
        # The sign-in mail names nobody: the name typed at sign-up is nobody's yet.
        await sign_in_mail(mail, NEW)
        message = [m for m in mail.received if NEW in m.recipients][-1].message
        assert "Nadia" not in message["To"] and "Dear" not in str(message)
        link, _ = await sign_in_mail(mail, NEW)
        page = await browser.get(link)
        assert (await browser.post(link, data={"csrf": token_of(page.text)})).status_code == 303
        assert new in everyone(engine, portal.settings)  # confirmed: now it takes bulk mail
        assert registry_size(engine) == before + 1
        # Its owner corrects the name; a name carrying a message is refused.
        form = await browser.get("/preferences")
        for name, status in (("Visit https://evil.example", 400), ("Nadia R. Rahman", 303)):
            saved = await browser.post(
                "/preferences",
                data={"name": name, "language": "en", "subscribed": "yes",
                      "csrf": token_of(form.text)},
            )  # fmt: skip
            assert saved.status_code == status, saved.text
        assert "Nadia R. Rahman" in (await browser.get("/me")).text


def test_unconfirmed_sign_ups_and_expired_rows_are_purged(
    engine: Engine, participants: list[dict[str, str]]
) -> None:
    key = b"k" * 32
    now = datetime.now(UTC)
    old = now - timedelta(hours=1)
    form = SignUpForm.model_validate({"name": "Nobody Asked", "email": "victim@example.org"})
    sign_up(engine, form, key, now=old)
    sign_up(engine, SignUpForm.model_validate({"name": "Just Now", "email": "n@example.org"}),
            key, now=now)  # fmt: skip
    member = participant_id(engine, participants[0]["email"])
    assert member is not None
    request_sign_in(engine, participants[0]["email"], key, now=old)
    gone = open_session(engine, member, key, now=old - timedelta(hours=12))
    idle = open_session(engine, member, key, now=old - timedelta(hours=2))
    live = open_session(engine, member, key, now=now)
    purged = purge_expired(engine, now=now)
    assert (purged.sessions, purged.sign_ups) == (2, 1) and purged.tokens >= 2
    assert participant_id(engine, "victim@example.org") is None
    assert participant_id(engine, "n@example.org") is not None  # its link still works
    assert participant_id(engine, participants[0]["email"]) == member
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_s)).scalar_one() == 1
    assert gone != idle != live
    assert purge_expired(engine, now=now).sessions == 0  # idempotent: another process finds none


async def whole_flow(url: str, address: str) -> tuple[str, str, float]:
    """A fresh browser asks for a link for ``address`` and, a moment later (as a person
    types what the message says), types a wrong code: the pages (form tokens removed) and
    the time the requests took (the redirect after the request is answered, then its page)."""
    async with httpx.AsyncClient(base_url=url) as browser:
        csrf = await page_token(browser, "/signin")
        started = time.perf_counter()
        redirect = await browser.post("/signin", data={"email": address, "csrf": csrf})
        took = time.perf_counter() - started
        assert redirect.status_code == 303
        await asyncio.sleep(0.3)  # the same pause for both: the known one's mail has left
        started = time.perf_counter()
        asked = await browser.get(redirect.headers["location"])
        typed = await browser.post("/signin/code", data={"code": "AAAA-AAAA", "csrf": csrf})
        took += time.perf_counter() - started
    strip = re.compile(r'value="[0-9a-f]{64}"')
    return strip.sub("", asked.text), strip.sub("", typed.text) + str(typed.status_code), took


async def test_the_code_form_tells_nothing_about_an_address(
    portal: Portal, participants: list[dict[str, str]]
) -> None:
    known = [p["email"] for p in participants[:5]]
    unknown = [f"nobody-here-{i}@example.org" for i in range(5)]
    for address in known:  # each language's first message compiles its templates: once
        await whole_flow(portal.url, address)
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    pages: dict[str, set[tuple[str, str]]] = {"known": set(), "unknown": set()}
    for a, b in zip(known, unknown, strict=True):
        for kind, address in (("known", a), ("unknown", b)):
            asked, typed, took = await whole_flow(portal.url, address)
            pages[kind].add((asked, typed))
            times[kind].append(took)
    assert pages["known"] == pages["unknown"] and len(pages["known"]) == 1
    assert "not the one we sent" in next(iter(pages["known"]))[1]
    known_ms, unknown_ms = (statistics.median(times[k]) * 1000 for k in ("known", "unknown"))
    assert abs(known_ms - unknown_ms) < max(25.0, 0.5 * max(known_ms, unknown_ms))
    # Five wrong codes end both alike.
    for address in (known[0], unknown[0]):
        async with httpx.AsyncClient(base_url=portal.url) as browser:
            csrf = token_of((await ask_for_link(browser, address)).text)
            for _ in range(5):
                await browser.post("/signin/code", data={"code": "AAAA-AAAA", "csrf": csrf})
            last = await browser.post("/signin/code", data={"code": "AAAA-AAAA", "csrf": csrf})
            assert "too many times" in last.text


async def test_the_one_click_unsubscribe_needs_its_body(
    portal: Portal, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    """The link of a real announcement: its page, then RFC 8058's one-click POST. The token is
    computed under the portal's key: the database holds nothing that matches it."""
    request = CampaignRequest(
        key="u:links", process_id="u", kind=MessageKind.OCP_OPENING, audience=Audience.EVERYONE,
        title="WSIS Forum 2027", timezone="Europe/Zurich",
        when=datetime(2027, 1, 31, 22, 59, tzinfo=UTC),
    )  # fmt: skip
    enqueue(request, audience_select(request, portal.settings), engine=engine)
    assert (await deliver(request, portal.settings, engine=engine)).sent == len(participants)
    address = participants[7]["email"]
    (got,) = [m for m in mail.received if m.recipients == [address]]
    header = str(got.message["List-Unsubscribe"])
    link = re.search(r"<(http[^>]+/unsubscribe/([^>]+))>", header)
    assert link and link.group(1).startswith(f"{portal.url}/unsubscribe/")
    token = link.group(2)
    assert f"subject=unsubscribe%20{token}>" in header  # the mailto carries the same token
    with engine.connect() as conn:
        stored = [str(v) for row in conn.execute(sa.select(_p)).all() for v in row]
        pid = conn.execute(sa.select(_p.c.id).where(_p.c.email == address)).scalar_one()
    assert not [v for v in stored if token in v or token.split(".")[1] in v]

    def unsubscribed() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.execute(sa.select(_p.c.unsubscribed).where(_p.c.id == pid)).scalar_one()
            )

    async with httpx.AsyncClient() as scanner:
        page = await scanner.get(link.group(1))
        assert page.status_code == 200 and f'action="/unsubscribe/{token}"' in page.text
        altered = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert (await scanner.get(f"{portal.url}/unsubscribe/{altered}")).status_code == 404
        other = f"{pid + 1}.{token.split('.')[1]}"  # another's id with this MAC
        assert (await scanner.get(f"{portal.url}/unsubscribe/{other}")).status_code == 404
        replayed = await scanner.post(link.group(1), data={"anything": "1"})
        assert replayed.status_code == 400
        assert not unsubscribed()
        done = await scanner.post(link.group(1), data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200
    assert unsubscribed()


def test_tokens_and_sessions_are_stored_as_keyed_hashes(
    engine: Engine, participants: list[dict[str, str]]
) -> None:
    key = b"k" * 32
    issued = request_sign_in(engine, participants[8]["email"], key)
    member = participant_id(engine, participants[8]["email"])
    assert member is not None
    session = open_session(engine, member, key)
    with engine.connect() as conn:
        token_row = conn.execute(sa.select(_t)).one()
        session_hash = conn.execute(sa.select(_s.c.id_hash)).scalar_one()
    unkeyed = {digest(issued.token), digest(issued.pending), digest(session)}
    assert not unkeyed & {token_row.token_hash, token_row.pending_hash, session_hash}


async def test_each_portal_process_purges_while_it_runs(
    settings: Settings, engine: Engine, participants: list[dict[str, str]]
) -> None:
    """The app's lifespan runs the purge in the background (several processes may: each pass
    deletes only what has expired)."""
    from pydantic import SecretStr

    from portal.app import create_app

    key = b"s" * 48
    member = participant_id(engine, participants[9]["email"])
    assert member is not None
    open_session(engine, member, key, now=datetime.now(UTC) - timedelta(days=1))
    apps = [
        create_app(settings.model_copy(update={"portal_secret": SecretStr("s" * 48)}), engine)
        for _ in range(2)
    ]
    for app in apps:
        app.state.purge_every = 0.05

    async def purged() -> None:
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(_s)).scalar_one() == 0

    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        await assert_eventually(purged)  # while the apps run, not at their shutdown
        # It has also composed a sign-in message in every language (templates compiled).
        await asyncio.wait_for(apps[0].state.mail_warm.wait(), 60)
