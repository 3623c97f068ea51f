"""Rendering a page in the visitor's language, with the form token and the headers it needs.

The language is, in order: the one chosen with the switcher (a cookie), the signed-in
participant's preference, the browser's ``Accept-Language``, English. A page is written in it
only where the catalog translates every string of the page and its layout; ``lang``, ``dir``
and ``Content-Language`` then say which language it really is.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, meta, select_autoescape
from markupsafe import Markup

from core import countries, i18n
from intake.fields import NAME_LIMIT, TEXT_LIMIT, TITLE_LIMIT
from intake.sessions import KEPT
from intake.tokens import LINK_LIFETIME
from portal.security import CSRF_COOKIE, cookie_name, csrf_seed, csrf_token, is_https, session_of

TEMPLATES = Path(__file__).parent / "templates"
# The figures pages state in their sentences, from the rules themselves, written with the
# reader's grouping by the ``number`` filter ("50 000" in French, not "50,000").
LIMITS = {
    "text": TEXT_LIMIT,
    "name": NAME_LIMIT,
    "title": TITLE_LIMIT,
    "kept_days": KEPT.lifetime.days,
    "link_minutes": int(LINK_LIFETIME.total_seconds() // 60),
}
LANGUAGE_COOKIE = "wsis_lang"


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["fragments"] = fragments
    env.globals["country_choices"] = country_choices
    env.globals["limits"] = LIMITS
    env.filters["country"] = lambda code: countries.name(code)
    return i18n.install(env, "portal")


@lru_cache(maxsize=16)
def _country_choices(lang: str) -> tuple[tuple[str, str], ...]:
    return tuple(countries.choices(lang))


def country_choices() -> tuple[tuple[str, str], ...]:
    """(code, name) of every country, named and sorted in the page's language."""
    return _country_choices(i18n.current())


def fragments(template: str, name: str, items: Iterable[Hashable], **common: Hashable) -> Markup:
    """``template`` once for each of ``items`` (as ``name``, with ``common``), joined: the
    pieces every visitor's page repeats in an order of its own (a ballot lists hundreds of
    projects). Each piece is rendered once and reused: plain values only, no strings of the
    template's own (they come translated in ``common``)."""
    shared = tuple(common.items())
    # The pieces are markup already: a plain join, not Markup.join (which escapes each).
    return Markup("".join([_fragment(template, name, item, shared) for item in items]))


@lru_cache(maxsize=20_000)
def _fragment(
    template: str, name: str, item: Hashable, common: tuple[tuple[str, Hashable], ...]
) -> Markup:
    return Markup(environment().get_template(template).render({name: item, **dict(common)}))


def template_sources(env: Environment, template: str) -> tuple[str, ...]:
    """``template`` and every template it extends or includes (project paths): the strings
    a page's language must translate (the portal's pages and the console's alike)."""
    found: list[str] = []
    todo = [template]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.append(name)
        text = (TEMPLATES / name).read_text(encoding="utf-8")
        todo.extend(n for n in meta.find_referenced_templates(env.parse(text)) if n)
    return tuple(f"portal/templates/{name}" for name in found)


@lru_cache
def sources(template: str) -> tuple[str, ...]:
    """A portal page's templates (``template_sources``), computed once."""
    return template_sources(environment(), template)


def wanted_language(request: Request, who: str = "participant") -> str:
    """What the visitor asked for, before checking that the page is translated: the
    switcher's cookie, then the signed-in person's own language (``request.state.<who>``: the
    participant, or the console's staff member), then the browser's, then English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in i18n.LANGUAGES:
        return chosen
    person = getattr(request.state, who, None)
    if person is not None and person.language in i18n.LANGUAGES:
        return str(person.language)
    return i18n.negotiate(request.headers.get("accept-language")) or i18n.SOURCE


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` in the visitor's language, with a CSRF token for its forms."""
    participant = getattr(request.state, "participant", None)
    return respond(
        request, environment(), "portal", template, sources(template),
        wanted=wanted_language(request), session=session_of(request), status=status,
        participant=participant, **context,
    )  # fmt: skip


def respond(
    request: Request, env: Environment, domain: str, template: str, read: tuple[str, ...], /,
    *, wanted: str, session: str, status: int, **context: Any,
) -> HTMLResponse:  # fmt: skip
    """A page of the portal or of the console: ``template`` from ``env`` in the language of
    ``domain``'s catalog nearest to ``wanted`` that translates all its templates (``read``),
    with a CSRF token bound to ``session`` (the participant's or the staff member's), truthful
    language headers, never cached."""
    settings = request.app.state.settings
    lang = i18n.language_for(wanted, domain, *read)
    seed, new_seed = csrf_seed(request)
    with i18n.speaking(lang):
        html = env.get_template(template).render(
            request=request,
            lang=lang,
            dir=i18n.direction(lang),
            languages=i18n.LANGUAGES,
            csrf=csrf_token(settings.portal_key(), seed, session),
            path=request.url.path,
            **context,
        )
    response = HTMLResponse(html, status_code=status)
    response.headers["content-language"] = lang
    response.headers["cache-control"] = "no-store"
    response.headers["vary"] = "Cookie, Accept-Language"
    if new_seed:
        response.set_cookie(
            cookie_name(request, CSRF_COOKIE), seed, httponly=True, samesite="lax",
            secure=secure(request), path="/",
        )  # fmt: skip
    return response


def secure(request: Request) -> bool:
    """Cookies are Secure when the portal is served over https."""
    return is_https(request)
