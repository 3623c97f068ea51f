"""The seven languages of the WSIS community: gettext catalogs, dates, numbers, direction.

Every e-mail and every page is written once, in English, with its strings marked for
translation (``{% trans %}`` in templates, ``_()`` in Python). There are three catalogs
(gettext domains) per language: ``mail`` (the e-mails), ``portal`` (the pages) and ``vocab``
(the domain's vocabulary both use: phase names, stakeholder types, categories), under
``locales/<lang>/LC_MESSAGES/<domain>.po``; ``make i18n`` extracts the strings and updates them
(see the README). They are compiled in memory when first used, so nothing compiled is kept in
the repository or can go stale.

A page or a message is written in a language only where its catalog translates every string
of its template; otherwise it falls back to English and says so (``lang``/``dir`` and
``Content-Language`` always tell the truth). ``tests/test_i18n.py`` keeps the catalogs
complete.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, get_datetime_format, get_timezone_name
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment

from core.settings import PROJECT_ROOT
from models.vocab import Language

LOCALES = PROJECT_ROOT / "locales"
DOMAINS = ("mail", "portal", "vocab")
SOURCE = Language.EN.value  # the language the strings are written in
LANGUAGES = tuple(lang.value for lang in Language)
RTL = frozenset({Language.AR.value})

_current: ContextVar[str] = ContextVar("language", default=SOURCE)


def catalog_path(lang: str, domain: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{domain}.po"


@lru_cache
def catalog(lang: str, domain: str) -> Catalog | None:
    """The parsed catalog of ``lang`` (None for English, the source, or a missing one)."""
    path = catalog_path(lang, domain)
    if lang == SOURCE or not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain=domain)


@lru_cache
def translations(lang: str, domain: str) -> NullTranslations:
    """Compiled translations of ``lang``; fuzzy entries are left out (they are not reviewed)."""
    found = catalog(lang, domain)
    if found is None:
        return NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, found, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=domain)


@lru_cache
def strings_of(domain: str) -> dict[str, frozenset[str]]:
    """Each source file's strings, from the domain's extracted template
    (``locales/<domain>.pot``, written by ``make i18n``; CI checks it is current)."""
    path = LOCALES / f"{domain}.pot"
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        template = read_po(fh, domain=domain)
    found: dict[str, set[str]] = {}
    for message in template:
        if message.id:
            key = message.id if isinstance(message.id, str) else message.id[0]
            for filename, _ in message.locations:
                found.setdefault(filename, set()).add(key)
    return {source: frozenset(ids) for source, ids in found.items()}


@lru_cache
def translated_ids(lang: str, domain: str) -> frozenset[str]:
    """The strings ``lang`` translates in ``domain`` (every plural form, none fuzzy)."""
    found = catalog(lang, domain)
    if found is None:
        return frozenset()
    done: set[str] = set()
    for message in found:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else [message.string]
        if all(strings) and not message.fuzzy:
            done.add(message.id if isinstance(message.id, str) else message.id[0])
    return frozenset(done)


def language_for(wanted: str | None, domain: str, *sources: str) -> str:
    """``wanted`` if its ``domain`` catalog translates every string of ``sources`` (paths
    relative to the project, as the catalogs name them), else English: the language a page
    or a message is really written in. A source without a string to translate needs none."""
    lang = wanted if wanted in LANGUAGES else SOURCE
    if lang == SOURCE:
        return SOURCE
    needed = strings_of(domain)
    done = translated_ids(lang, domain)
    complete = all(needed.get(source, frozenset()) <= done for source in sources)
    return lang if complete else SOURCE


def direction(lang: str) -> str:
    """``rtl`` for Arabic, ``ltr`` for the others."""
    return "rtl" if lang in RTL else "ltr"


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Translate in ``lang`` within this block (templates and ``_()`` read it)."""
    token = _current.set(lang if lang in LANGUAGES else SOURCE)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> str:
    return _current.get()


def gettext(message: str, domain: str = "vocab") -> str:
    """``message`` in the current language (the ``vocab`` catalog unless told otherwise)."""
    return translations(_current.get(), domain).gettext(message)


def ngettext(singular: str, plural: str, n: int, domain: str = "vocab") -> str:
    return translations(_current.get(), domain).ngettext(singular, plural, n)


def pgettext(context: str, message: str, domain: str = "vocab") -> str:
    return translations(_current.get(), domain).pgettext(context, message)


def vocab(term: str) -> str:
    """A term of the domain's vocabulary (a phase, a stakeholder type, a category name)."""
    return gettext(term, "vocab")


def when(moment: datetime, zone: str, lang: str | None = None) -> str:
    """A date and time as the language writes it, in ``zone``, with the zone named and UTC:
    ``Monday, 20 February 2017, 23:59 Central European Standard Time (22:59 UTC)``."""
    lang = lang or _current.get()
    local = moment.astimezone(ZoneInfo(zone))
    # The language's own order of date and time ("{1}, {0}"), its full date, a 24-hour clock.
    pattern = str(get_datetime_format("full", locale=lang)).replace("'", "")
    text = pattern.replace("{1}", format_date(local, "full", locale=lang)).replace(
        "{0}", format_skeleton("Hm", local, locale=lang)
    )
    name = get_timezone_name(local, width="long", locale=lang)
    utc = format_skeleton("Hm", moment.astimezone(UTC), locale=lang)
    return f"{text} {name} ({utc} UTC)"


def number(value: float, lang: str | None = None) -> str:
    """``1,234.5`` as the language writes it (``1 234,5`` in French)."""
    return format_decimal(value, locale=lang or _current.get())


def language_name(lang: str) -> str:
    """The language's own name for itself: English, Français, العربية, 中文..."""
    return (Locale.parse(lang).get_display_name(lang) or lang).capitalize()


_QUALITY = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q=([0-9.]+))?\s*$")


def negotiate(accept_language: str | None) -> str | None:
    """The first of our languages the browser's ``Accept-Language`` asks for, or None."""
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "")[:1000].split(",")[:40]):
        match = _QUALITY.match(part)
        if not match:
            continue
        try:
            quality = float(match.group(2) or 1)
        except ValueError:
            continue
        wanted.append((-quality, i, match.group(1).lower()))
    for quality, _, tag in sorted(wanted):
        primary = tag.split("-")[0]
        if quality < 0 and primary in LANGUAGES:
            return primary
    return None


def install(env: Environment, domain: str) -> Environment:
    """Give a Jinja2 environment the ``domain`` catalog (``{% trans %}``, ``_()``) and what
    every template uses: the filters ``when``, ``number`` and ``vocab``, and ``direction()``
    for ``dir``."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # translators see each sentence on one line
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: gettext(message, domain),
        lambda singular, plural, n: ngettext(singular, plural, n, domain),
        newstyle=True,
        pgettext=lambda context, message: pgettext(context, message, domain),
    )
    env.filters["when"] = lambda moment, zone: when(moment, zone)
    env.filters["number"] = lambda value: number(value)
    env.filters["vocab"] = vocab
    env.globals["direction"] = direction
    env.globals["current_language"] = current
    env.globals["language_name"] = language_name
    return env
