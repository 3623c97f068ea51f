"""A body over the portal's limit is refused with a 413 page in the reader's language, inside
the portal's design and security headers: a declared length before anything is read, a
streamed (chunked) body as soon as it crosses the limit. The real portal under uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from core.settings import Settings
from portal.pages import LANGUAGE_COOKIE
from tests.conftest import Portal

FORM = {"content-type": "application/x-www-form-urlencoded"}
LIMIT = 4096  # small: the whole upload fits in the sockets' buffers before the server closes


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The portal's settings with a small body limit (the real one is 1 MB: a client still
    uploading it when the 413 comes reads a reset instead of the page, as browsers may)."""
    return settings.model_copy(update={"portal_max_body_bytes": LIMIT})


def _is_the_portals_page(answer: httpx.Response, lang: str, heading: str) -> None:
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["content-language"] == lang
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page = answer.text
    assert (
        f'<html lang="{lang}"' in page
        and '<link rel="stylesheet" href="/static/portal.css">' in page
    )
    assert f"<h1>{heading}</h1>" in page and "Content Too Large" not in page


async def test_a_declared_body_over_the_limit_is_the_portals_413_page(portal: Portal) -> None:
    limit = portal.settings.portal_max_body_bytes
    async with httpx.AsyncClient(base_url=portal.url, cookies={LANGUAGE_COOKIE: "fr"}) as client:
        answer = await client.post("/signin", content=b"email=" + b"a" * limit, headers=FORM)
        _is_the_portals_page(answer, "fr", "Votre envoi est trop volumineux")
        assert limit == LIMIT
        assert (await client.get("/")).status_code == 200  # and the portal is still there


async def test_a_streamed_body_over_the_limit_is_the_portals_413_page(portal: Portal) -> None:
    limit = portal.settings.portal_max_body_bytes

    async def chunks() -> AsyncIterator[bytes]:
        yield b"email="
        for _ in range(limit // 1_000 + 2):
            yield b"a" * 1_000

    async with httpx.AsyncClient(base_url=portal.url, cookies={LANGUAGE_COOKIE: "ar"}) as client:
        answer = await client.post("/signin", content=chunks(), headers=FORM)
        assert "content-length" not in answer.request.headers  # streamed: no length declared
        _is_the_portals_page(answer, "ar", "ما أرسلتموه كبير جداً")
        small = await client.post("/signin", content=b"email=x", headers=FORM)
        assert small.status_code != 413  # under the limit: the form is read as before
