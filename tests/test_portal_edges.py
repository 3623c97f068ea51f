"""The portal's edges (security review D4, D6, D10, D12, D13, D15): hostile form values, an
oversize chunked body, an unexpected error, the settings it refuses to start with, and how
``python -m portal`` runs uvicorn."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from core.settings import Settings
from devstack.catcher import MailCatcher
from tests.conftest import Portal
from tests.portal_flow import Contest, signed_in, token_of

ROOT = Path(__file__).resolve().parent.parent


async def test_a_non_ascii_digit_in_a_ballot_is_ignored_not_a_500(
    portal: Portal, mail: MailCatcher, contest: Contest, participants: list[dict[str, str]]
) -> None:
    async with signed_in(portal.url, mail, participants[3]["email"]) as browser:
        page = await browser.get(f"/ballot/{contest.process_id}")
        for value in ("²", "٣", "①", "1" * 30):
            review = await browser.post(
                f"/ballot/{contest.process_id}/review",
                data={"choice-C1": value, "csrf": token_of(page.text)},
            )
            assert review.status_code == 200, (value, review.status_code)
            confirm = await browser.post(
                f"/ballot/{contest.process_id}/confirm",
                data={"choice-C1": value, "csrf": token_of(review.text)},
            )
            assert confirm.status_code < 500, (value, confirm.status_code)


async def test_an_oversize_chunked_form_is_a_413(portal: Portal) -> None:
    limit = portal.settings.portal_max_body_bytes

    async def chunks() -> object:
        for _ in range(limit // 10_000 + 2):
            yield b"email=" + b"a" * 10_000

    async with httpx.AsyncClient(base_url=portal.url) as client:
        answer = await client.post(
            "/signin",
            content=chunks(),  # type: ignore[arg-type]
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 413
    assert "content-length" not in answer.request.headers  # streamed: no length declared


async def test_an_unexpected_error_is_the_error_page_inside_the_security_headers(
    settings: Settings, engine: Engine
) -> None:
    from portal.app import create_app

    app = create_app(settings.model_copy(update={"portal_secret": SecretStr("k" * 40)}), engine)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.get("/boom")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text and "a bug" not in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_no_proxy_is_trusted_by_default_and_uvicorn_is_bounded() -> None:
    from portal.__main__ import uvicorn_options

    plain = uvicorn_options(Settings(_env_file=None))
    assert plain["proxy_headers"] is False  # X-Forwarded-For believed from nobody
    assert plain["limit_concurrency"] and plain["h11_max_incomplete_event_size"]
    assert plain["server_header"] is False and plain["timeout_keep_alive"] <= 10
    behind = uvicorn_options(Settings(portal_trusted_proxies="10.0.0.2"))
    assert behind["proxy_headers"] is True and behind["forwarded_allow_ips"] == "10.0.0.2"


COMPOSE_DEFAULT = "local-stack-only-set-a-long-random-secret"


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"WSIS_PORTAL_URL": "http://wsis.example.org"}, "https"),
        ({"WSIS_PORTAL_SECRET": "short"}, "secret"),
        ({"WSIS_PORTAL_SECRET": COMPOSE_DEFAULT}, "secret"),
        ({}, "secret"),  # a public portal needs a secret every process shares
        ({"WSIS_PORTAL_TRUSTED_PROXIES": ""}, "proxies"),
    ],
)
def test_unsafe_production_settings_refuse_to_start(
    tmp_path: Path, env: dict[str, str], problem: str
) -> None:
    environment = {
        **os.environ,
        "WSIS_PORTAL_URL": "https://wsis.example.org",
        "WSIS_PORTAL_SECRET": "s" * 48,
        "WSIS_PORTAL_TRUSTED_PROXIES": "10.0.0.2",
        "DATABASE_URL": f"sqlite:///{tmp_path}/never.db",
        **env,
    }
    if not env:
        environment.pop("WSIS_PORTAL_SECRET")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "portal"], cwd=ROOT, env=environment,
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("the portal started with unsafe settings")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and problem in lines[0].lower() and "Traceback" not in done.stderr
    assert not (tmp_path / "never.db").exists()


def test_local_portal_starts_with_the_defaults() -> None:
    from portal.startup import unsafe

    assert unsafe(Settings(portal_url="http://localhost:8000")) == []
    assert unsafe(Settings(portal_url="http://127.0.0.1:8123", portal_secret="x")) == []
    public = Settings(
        portal_url="https://wsis.example.org", portal_secret="s" * 48,
        portal_trusted_proxies="none",  # said explicitly: served without a proxy
    )  # fmt: skip
    assert unsafe(public) == []
