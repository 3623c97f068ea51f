"""Rendering a message kind's template in one language: subject, plain text and HTML.

One template per kind, ``mail/templates/<kind>.j2``, written once in English with its strings
marked ``{% trans %}`` (the ``mail`` catalog translates them; ``core.i18n.install``). A template
sets ``subject`` and defines ``body(html)`` once; the layout (``_layout.j2``) calls it twice,
for the plain text and for the HTML, so that both always say the same thing and translators
see each sentence once. Inside ``body`` autoescaping follows ``html`` at run time, so values
are escaped in HTML and left alone in the text.

Embedded data (names, titles, venues, URLs) goes through the ``isolate`` filter: a ``<bdi>`` in
HTML, and in an Arabic plain text a first-strong isolate (U+2068 ... U+2069), so that a Latin
title or a URL cannot scramble a right-to-left line. In a right-to-left language the subject
and every line of the plain text that would otherwise start left to right begin with a
right-to-left mark (U+200F).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from core import countries, i18n

TEMPLATES = Path(__file__).parent / "templates"
LAYOUT = "_layout.j2"
CALENDAR_SOURCE = "mail/calendar.py"  # the .ics strings, in the same catalog

# What a body may not contain: C0 controls but TAB and LF (CR is a line end), and DEL.
BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")
_BLANK_RUNS = re.compile(r"\n{3,}")
_LINE_ENDS = re.compile(r"\r\n|\r|\n")

RLM = "\u200f"
_FSI, _PDI = "\u2068", "\u2069"
_ISOLATE_INITIATORS = frozenset("\u2066\u2067\u2068")


def source(name: str) -> str:
    """A template's path as the catalogs and ``core.i18n.language_for`` name it (relative to
    the project: ``core.i18n`` reads it, and the catalogs, from the same tree)."""
    return f"mail/templates/{name}"


def local_time(when: datetime, zone: str) -> str:
    """``Monday, 20 February 2017, 23:59 Central European Standard Time (22:59 UTC)``: a date
    in English, for the secretariat's command line and intake's refusals (``core.i18n.when``,
    as every e-mail writes its dates)."""
    return i18n.when(when, zone, i18n.SOURCE)


@pass_eval_context
def isolate(eval_ctx: EvalContext, value: Any) -> Any:
    """Embedded data (a name, a title, a URL) kept apart from the text around it: ``<bdi>`` in
    HTML; in right-to-left plain text a first-strong isolate around each line."""
    if eval_ctx.autoescape:
        return Markup("<bdi>{}</bdi>").format(value)
    text = str(value)
    if i18n.current() not in i18n.RTL:
        return text
    # An isolate ends at a line break: each line of a multi-line note gets its own.
    lines = _LINE_ENDS.split(text)
    return "\n".join(f"{_FSI}{line}{_PDI}" if line else line for line in lines)


@pass_eval_context
def strong(eval_ctx: EvalContext, value: Any) -> Any:
    """What the reader must not miss (a deadline), bold in HTML; the text is unchanged."""
    return Markup("<strong>{}</strong>").format(value) if eval_ctx.autoescape else value


@pass_eval_context
def link(eval_ctx: EvalContext, url: str) -> Any:
    """A URL: a link in HTML (its text isolated), isolated in right-to-left plain text."""
    if eval_ctx.autoescape:
        return Markup('<a href="{0}"><bdi>{0}</bdi></a>').format(url)
    return isolate(eval_ctx, url)


@lru_cache
def environment() -> Environment:
    """The templates' environment: the ``mail`` catalog, ``when``/``number``/``vocab`` and
    the filters above. Autoescaping is off by default (subject and text are plain text);
    the layout and each ``body`` turn it on for the HTML."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    i18n.install(env, "mail")
    env.filters["isolate"] = isolate
    env.filters["strong"] = strong
    env.filters["link"] = link
    env.globals["current_language"] = i18n.current
    env.filters["country"] = lambda code: countries.name(code)  # a code named, other text kept
    return env


def body_text(text: str) -> str:
    """``text`` fit for a message body: LF line ends, and no control character but TAB and LF
    (a NUL, say from a registry row, has no place in a 7bit body: RFC 2045 forbids it)."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return BODY_CONTROLS.sub("", text)


def _tidy(text: str) -> str:
    """Plain text as the layout means it: no trailing spaces, at most one blank line."""
    lines = "\n".join(line.rstrip(" \t") for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", lines).strip()


def _needs_mark(line: str) -> bool:
    """Whether a right-to-left line needs a leading U+200F: its first strong character is
    not right to left, or an isolate (embedded data) comes before any strong character.
    What is inside an isolate is never looked at, so the answer cannot depend on a name."""
    for char in line:
        if char in _ISOLATE_INITIATORS:
            return True
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return False
        if kind == "L":
            return True
    return False


def right_to_left(text: str) -> str:
    """Each line of ``text`` that needs it begins with a right-to-left mark, so that a mail
    reader that takes a line's direction from its first letter sets it right to left."""
    return "\n".join(RLM + line if _needs_mark(line) else line for line in text.split("\n"))


def render(kind: str, language: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and HTML of ``kind`` written in ``language``.

    ``language`` is the one the message is really written in (the Composer decides it with
    ``core.i18n.language_for``): strings the catalog lacks would come out in English.
    """
    with i18n.speaking(language):
        module: Any = environment().get_template(f"{kind}.j2").make_module(context)
        # One line (a header), so that a right-to-left subject gets one mark, at its start.
        subject = _LINE_ENDS.sub(" ", str(module.subject)).strip()
        text = _tidy(body_text(str(module.text)))
        html = body_text(str(module.html)).strip()
    if language in i18n.RTL:
        subject, text = right_to_left(subject), right_to_left(text)
    return subject, text, html
