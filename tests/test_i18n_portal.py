"""The portal's pages in the visitor's language, through real HTTP: the browser's
``Accept-Language``, the switcher's cookie, a signed-in participant's preference, and the
fall back to English (said truthfully in ``lang``, ``dir`` and ``Content-Language``) when a
catalog lacks a string of the page. Arabic pages in Chromium are in tests/test_portal_browser.py.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from babel.messages.pofile import read_po, write_po

from core import i18n
from devstack import catalogs
from devstack.catcher import MailCatcher
from tests.conftest import Portal
from tests.portal_flow import signed_in

HTML_TAG = re.compile(r'<html lang="([a-z]+)" dir="(ltr|rtl)">')


@pytest_asyncio.fixture
async def browser(portal: Portal) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=portal.url, follow_redirects=False) as client:
        yield client


def written_in(page: httpx.Response) -> tuple[str, str, str]:
    """(Content-Language, the ``<html lang>``, its ``dir``) of a page."""
    found = HTML_TAG.search(page.text)
    assert found, page.text[:200]
    return page.headers["content-language"], found.group(1), found.group(2)


def says(lang: str, message: str) -> str:
    """``message`` as the ``lang`` portal catalog writes it (escaped as a page shows it)."""
    text = i18n.translations(lang, "portal").gettext(message)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_portal_catalogs_are_complete() -> None:
    assert catalogs.problems(("portal",)) == []


@pytest.mark.parametrize(
    ("accept", "lang"),
    [
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("de-DE, es;q=0.5, en;q=0.1", "es"),  # German is not ours: the next one asked for
        ("pt-BR", "pt"),
        ("ru", "ru"),
        ("zh-Hans-CN,zh;q=0.9", "zh"),
        ("ar-EG, en;q=0.5", "ar"),
        ("en;q=0.2, ar;q=0.9", "ar"),  # by quality, not by order
        ("de", "en"),
        ("", "en"),
        ("fr;q=abc, " * 400 + "ru", "en"),  # hostile: cut at 1,000 characters, no error
    ],
)
async def test_the_browser_language_chooses_the_page_language(
    browser: httpx.AsyncClient, accept: str, lang: str
) -> None:
    page = await browser.get("/signin", headers={"accept-language": accept})
    assert page.status_code == 200
    assert written_in(page) == (lang, lang, "rtl" if lang == "ar" else "ltr")
    assert says(lang, "Send me a sign-in link") in page.text
    assert "Accept-Language" in page.headers["vary"]


async def test_the_switcher_sets_a_cookie_that_wins_and_goes_back_to_the_page(
    browser: httpx.AsyncClient,
) -> None:
    french = {"accept-language": "fr"}
    switched = await browser.get("/language/ar", params={"next": "/signup?x=1"})
    assert (switched.status_code, switched.headers["location"]) == (303, "/signup?x=1")
    cookie = switched.headers["set-cookie"].lower()
    assert "wsis_lang=ar" in cookie and "samesite=lax" in cookie
    page = await browser.get("/signup", headers=french)
    assert written_in(page) == ("ar", "ar", "rtl")
    # The switcher on that page links every language back to the same page.
    assert 'href="/language/fr?next=/signup"' in page.text

    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        away = await browser.get("/language/ru", params={"next": hostile})
        assert away.headers["location"] == "/"  # never off the portal
    unknown = await browser.get("/language/xx", params={"next": "/signin"})
    assert "set-cookie" not in unknown.headers  # the Russian cookie stays
    assert written_in(await browser.get("/signin", headers=french))[0] == "ru"


async def test_a_signed_in_participant_reads_their_preferred_language(
    portal: Portal, mail: MailCatcher, participants: list[dict[str, str]]
) -> None:
    person = next(p for p in participants if p["language"] == "zh")
    async with signed_in(portal.url, mail, person["email"], language=None) as browser:
        mine = await browser.get("/me", headers={"accept-language": "es"})
    assert written_in(mine) == ("zh", "zh", "ltr")
    assert says("zh", "My page") in mine.text


@pytest.fixture
def french_lacks_a_sign_in_string(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The French portal catalog without one string of the sign-in page."""
    path = i18n.catalog_path("fr", "portal")
    with path.open("rb") as fh:
        found = read_po(fh, locale="fr", domain="portal")
    del found["Send me a sign-in link"]
    changed = tmp_path / "portal.po"
    with changed.open("wb") as fh:
        write_po(fh, found)
    real = i18n.catalog_path
    monkeypatch.setattr(
        i18n, "catalog_path",
        lambda lang, dom: changed if (lang, dom) == ("fr", "portal") else real(lang, dom),
    )  # fmt: skip
    i18n.forget()
    yield
    monkeypatch.undo()
    i18n.forget()


@pytest.mark.usefixtures("french_lacks_a_sign_in_string")
async def test_a_page_whose_catalog_lacks_a_string_is_english_and_says_so(
    browser: httpx.AsyncClient,
) -> None:
    french = {"accept-language": "fr"}
    signin = await browser.get("/signin", headers=french)
    assert written_in(signin) == ("en", "en", "ltr")
    assert "Send me a sign-in link" in signin.text
    # Another page, all of whose strings are there, is still French.
    signup = await browser.get("/signup", headers=french)
    assert written_in(signup) == ("fr", "fr", "ltr")
