"""Nothing a participant (or an anonymous visitor) can do reaches a staff page; every console
form carries a CSRF token; a hostile title is text on every page and in every export."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from models.tables import Participant, Project
from portal.app import create_app
from services import staff
from tests.conftest import Portal
from tests.portal_flow import ask_for_link, sign_in_mail, token_of
from tests.staff_flow import staff_sign_in

_p = Participant.__table__  # type: ignore[attr-defined]
_j = Project.__table__  # type: ignore[attr-defined]
XSS = "<img src=x onerror=alert(1)>"
# The only /staff routes a stranger may reach: they ask who you are.
SIGN_IN = {"/staff/signin", "/staff/signin/link/{token}", "/staff/second-factor", "/staff/signout"}


def every_route(routes: list[Any]) -> list[Any]:
    """The routes of a route table, those of included routers too (FastAPI keeps them
    behind the router they came with)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found += every_route(inner.routes) if inner is not None else [route]
    return found


def staff_routes() -> list[tuple[str, str]]:
    """Every (method, path) under /staff, from the application's own route table."""
    app = create_app(engine=sa.create_engine("sqlite://"))
    found = []
    for route in every_route(app.routes):
        if isinstance(route, APIRoute) and route.path.startswith("/staff"):
            for method in sorted(route.methods or ()):
                path = re.sub(r"\{row_id\}|\{project_id\}", "1", route.path)
                path = path.replace("{kind}", "participants").replace("{fmt}", "csv")
                found.append((method, path))
    return found


def test_the_route_table_has_the_console() -> None:
    paths = {p for _, p in staff_routes()}
    assert {"/staff/", "/staff/participants", "/staff/changes", "/staff/start"} <= paths
    assert len(paths - SIGN_IN) >= 15


async def test_no_staff_page_answers_strangers_or_participants(
    portal: Portal, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    async with (
        httpx.AsyncClient(base_url=portal.url) as anonymous,
        httpx.AsyncClient(base_url=portal.url) as participant,
    ):
        await ask_for_link(participant, participants[0]["email"])
        link, _ = await sign_in_mail(mail, participants[0]["email"])
        path = "/" + link.split("://", 1)[1].split("/", 1)[1]
        button = await participant.get(path)
        await participant.post(path, data={"csrf": token_of(button.text)})
        assert (await participant.get("/me")).status_code == 200  # signed in to the portal
        for client in (anonymous, participant):
            csrf = token_of((await client.get("/staff/signin")).text)
            for method, path in staff_routes():
                if path in SIGN_IN or path.startswith("/staff/signin/link"):
                    continue
                response = await client.request(method, path, data={"csrf": csrf})
                assert response.status_code == 303, (method, path, response.status_code)
                assert response.headers["location"] == "/staff/signin", (method, path)
                assert participants[0]["email"] not in response.text
        # A participant's e-mailed link is no way in either.
        await ask_for_link(participant, participants[1]["email"])
        link, _ = await sign_in_mail(mail, participants[1]["email"])
        staff_path = "/staff/" + link.split("/signin/", 1)[1].replace("link/", "signin/link/", 1)
        button = await participant.get(staff_path)
        refused = await participant.post(staff_path, data={"csrf": token_of(button.text)})
        assert refused.status_code == 400 and "wsis_staff" not in refused.headers.get(
            "set-cookie", ""
        )


async def test_an_expert_is_refused_secretariat_pages_and_every_form_needs_csrf(
    portal: Portal, engine: Engine, mail: MailCatcher
) -> None:
    staff.add(engine, "expert@itu.int", "expert", actor="cli:test")
    staff.add(engine, "sec@itu.int", "secretariat", actor="cli:test")
    async with (
        httpx.AsyncClient(base_url=portal.url) as expert,
        httpx.AsyncClient(base_url=portal.url) as secretariat,
    ):
        assert (await staff_sign_in(expert, mail, engine, "expert@itu.int")).status_code == 200
        assert (await expert.get("/staff/participants")).status_code == 200
        for path in ("/staff/changes", "/staff/start", "/staff/accounts", "/staff/audit"):
            assert (await expert.get(path)).status_code == 403, path
        page = await staff_sign_in(secretariat, mail, engine, "sec@itu.int", step=1)
        assert page.status_code == 200
        for method, path in staff_routes():
            if method != "POST" or path == "/staff/signin":
                continue
            response = await secretariat.post(path, data={"csrf": "0" * 64})
            assert response.status_code in (403, 303), (path, response.status_code)
            if response.status_code == 303:  # refused earlier: no session for that step
                assert path.startswith("/staff/signin/link") or path == "/staff/second-factor"
        # Every form of every page a secretariat sees carries the token.
        for path in ("/staff/", "/staff/changes", "/staff/start", "/staff/accounts",
                     "/staff/next-cycle", "/staff/eligibility", "/staff/participants"):  # fmt: skip
            html = (await secretariat.get(path)).text
            for form in re.findall(r"<form method=\"post\".*?</form>", html, re.S):
                assert 'name="csrf"' in form, (path, form[:80])


async def test_a_hostile_title_is_text_everywhere(
    portal: Portal, engine: Engine, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    staff.add(engine, "sec@itu.int", "secretariat", actor="cli:test")
    with engine.begin() as conn:
        conn.execute(_p.update().where(_p.c.id == 1).values(name=XSS, organization=XSS))
        conn.execute(
            _j.insert().values(
                process_id="wsis-2030-prizes", category="C1", title=XSS, title_key="x",
                description=XSS, owner_id=1, organization=XSS, stakeholder_type="Academia",
                country=XSS, submitted_at=datetime.now(UTC), status="submitted",
                shortlisted=False, winner=False,
            )
        )  # fmt: skip
    async with httpx.AsyncClient(base_url=portal.url) as client:
        await staff_sign_in(client, mail, engine, "sec@itu.int")
        for path in ("/staff/participants", "/staff/participants/1", "/staff/projects",
                     "/staff/projects/1", "/staff/participants?q=img"):  # fmt: skip
            html = (await client.get(path)).text
            assert XSS not in html and "&lt;img src=x onerror=alert(1)&gt;" in html, path
        for kind in ("participants", "projects"):
            for fmt in ("csv", "xlsx"):
                export = await client.get(f"/staff/{kind}/export.{fmt}")
                assert export.status_code == 200 and export.headers["content-type"].startswith(
                    ("text/csv", "application/vnd.openxml")
                )
                if fmt == "csv":
                    assert XSS in export.text  # as typed: a spreadsheet shows it as text


async def test_the_console_speaks_seven_languages(portal: Portal) -> None:
    from devstack import catalogs

    assert catalogs.problems(("staff",)) == []
    async with httpx.AsyncClient(base_url=portal.url) as client:
        for lang, words in (("fr", "Connexion du personnel"), ("ar", "تسجيل دخول الموظفين"),
                            ("zh", "工作人员登录"), ("ru", "Вход для сотрудников")):  # fmt: skip
            page = await client.get("/staff/signin", headers={"accept-language": lang})
            assert page.headers["content-language"] == lang and words in page.text
            direction = "rtl" if lang == "ar" else "ltr"
            assert f'<html lang="{lang}" dir="{direction}">' in page.text


async def test_starting_a_past_cycle_from_the_console_is_refused_unless_skipped(
    portal: Portal, engine: Engine, mail: MailCatcher
) -> None:
    staff.add(engine, "sec@itu.int", "secretariat", actor="cli:test")
    async with httpx.AsyncClient(base_url=portal.url) as client:
        await staff_sign_in(client, mail, engine, "sec@itu.int")
        preview = await client.get("/staff/start?file=2024.toml")
        assert "49 actions of this cycle are already past." in preview.text
        assert 'name="skip_past"' in preview.text and preview.text.count('class="past"') == 49
        refused = await client.post(
            "/staff/start", data={"file": "2024.toml", "csrf": token_of(preview.text)}
        )
        assert refused.status_code == 400 and "--skip-past" in refused.text
        for hostile in ("../pyproject.toml", "/etc/passwd", "2024.toml/../x.toml"):
            page = await client.get("/staff/start", params={"file": hostile})
            assert "choose a cycle file from the list" in page.text, hostile
