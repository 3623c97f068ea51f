"""Rendering a console page: the ``staff`` catalog, the portal's CSRF token and headers.

The console's words are their own gettext domain (``locales/<lang>/LC_MESSAGES/staff.po``),
in the seven languages; staff content (titles, names, notices) is shown as typed, escaped.
The language is the portal's choice (the switcher's cookie, then the browser's), else the
staff member's own; ``lang``/``dir``/``Content-Language`` say which it really is.
"""

from __future__ import annotations

from datetime import UTC
from functools import lru_cache
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, meta, select_autoescape

from core import i18n
from portal.pages import LANGUAGE_COOKIE, TEMPLATES, secure
from portal.security import CSRF_COOKIE, cookie_name, csrf_seed, csrf_token
from portal.staff.auth import staff_cookie
from services.temporal import web_ui_link

DOMAIN = "staff"


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["web_ui"] = web_ui_link
    env.globals["utc"] = lambda when: when.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    return i18n.install(env, DOMAIN)


@lru_cache
def sources(template: str) -> tuple[str, ...]:
    """``template`` and the templates it extends or includes (the strings its language must
    translate)."""
    env = environment()
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


def wanted_language(request: Request) -> str:
    """The switcher's cookie, the staff member's language, the browser's, English."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in i18n.LANGUAGES:
        return chosen
    member = getattr(request.state, "staff", None)
    if member is not None and member.language in i18n.LANGUAGES:
        return str(member.language)
    return i18n.negotiate(request.headers.get("accept-language")) or i18n.SOURCE


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page in the visitor's language, with a CSRF token for its forms."""
    settings = request.app.state.settings
    lang = i18n.language_for(wanted_language(request), DOMAIN, *sources(template))
    seed, new_seed = csrf_seed(request)
    with i18n.speaking(lang):
        html = (
            environment()
            .get_template(template)
            .render(
                request=request,
                lang=lang,
                dir=i18n.direction(lang),
                languages=i18n.LANGUAGES,
                csrf=csrf_token(settings.portal_key(), seed, staff_cookie(request)),
                staff=getattr(request.state, "staff", None),
                path=request.url.path,
                **context,
            )
        )
    response = HTMLResponse(html, status_code=status)
    response.headers["content-language"] = lang
    response.headers["cache-control"] = "no-store"
    response.headers["vary"] = "Cookie, Accept-Language"
    if new_seed:
        response.set_cookie(
            cookie_name(request, CSRF_COOKIE),
            seed,
            httponly=True,
            samesite="lax",
            secure=secure(request),
            path="/",
        )
    return response
