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
from jinja2 import Environment, FileSystemLoader, select_autoescape

from core import i18n
from portal.pages import TEMPLATES, respond, template_sources, wanted_language
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
    """A console page's templates (``portal.pages.template_sources``), computed once."""
    return template_sources(environment(), template)


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """A console page in the visitor's language, with a CSRF token for its forms (bound to
    the console's session)."""
    return respond(
        request, environment(), DOMAIN, template, sources(template),
        wanted=wanted_language(request, "staff"), session=staff_cookie(request), status=status,
        staff=getattr(request.state, "staff", None), **context,
    )  # fmt: skip
