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
``Content-Language`` always tell the truth); the strings are read from the template itself,
so even a catalog older than its template cannot pass for complete. The tests keep the
catalogs complete (``tests/test_i18n_mail.py`` for the mail and vocab domains).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from gettext import NullTranslations
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_skeleton, get_datetime_format, get_timezone_name
from babel.lists import format_list
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment

from core.settings import PROJECT_ROOT
from models.vocab import Language, Localized

LOCALES = PROJECT_ROOT / "locales"
DOMAINS = ("mail", "portal", "vocab")
SOURCE = Language.EN.value  # the language the strings are written in
LANGUAGES = tuple(lang.value for lang in Language)
RTL = frozenset({Language.AR.value})

# How dates and numbers are written: the UN and ITU write English day-month-year ("Monday,
# 20 February 2017"), as British English does, not in the US order of Babel's plain "en".
_FORMATS = {SOURCE: "en_GB"}
# How strings are found in a source (``devstack/catalogs.py`` extracts with the same options):
# Jinja2 templates with the i18n extension and trimmed policy, Python with these keywords.
JINJA_OPTIONS = {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
PY_KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
}
VOCAB_KEYWORDS: dict[str, Any] = {"N_": None}

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


def translated(message: Message | None) -> bool:
    """Whether a catalog entry is usable: every form translated, and not fuzzy."""
    if message is None or message.fuzzy:
        return False
    strings = message.string if isinstance(message.string, tuple | list) else [message.string]
    return bool(strings) and all(strings)


@lru_cache
def marked(source: str, domain: str = "mail") -> frozenset[tuple[str, str | None]]:
    """The strings ``source`` (a path relative to the project) marks for translation today,
    read from the file itself (not from a catalog, which may be older): (msgid, context)
    pairs, a plural by its singular. A file that does not exist marks nothing."""
    path = PROJECT_ROOT / source
    if not path.is_file():
        return frozenset()
    if path.suffix == ".py":
        method, options = "python", {}
        keywords = VOCAB_KEYWORDS if domain == "vocab" else PY_KEYWORDS
    else:
        method, options, keywords = "jinja2", JINJA_OPTIONS, PY_KEYWORDS
    with path.open("rb") as fh:
        found = extract(method, fh, keywords=keywords, options=options)
        return frozenset(
            (message[0] if isinstance(message, tuple | list) else message, context)
            for _, message, _, context in found
        )


@lru_cache
def _complete(lang: str, domain: str, source: str) -> bool:
    found = catalog(lang, domain)
    if found is None:
        return False
    return all(translated(found.get(msgid, context)) for msgid, context in marked(source, domain))


def language_for(wanted: str | None, domain: str, *sources: str) -> str:
    """``wanted`` if its ``domain`` catalog translates every string of ``sources`` (paths
    relative to the project), else English: the language a page or a message is really
    written in. The strings are read from the sources themselves, so a string added to a
    template and not yet in the catalog (``make i18n`` not run) sends that page or message
    back to English instead of leaving it half translated under another language's name."""
    lang = wanted if wanted in LANGUAGES else SOURCE
    if lang == SOURCE:
        return SOURCE
    return lang if all(_complete(lang, domain, source) for source in sources) else SOURCE


def forget() -> None:
    """Forget every catalog and source read so far (they are read again when next used):
    for tests, and after catalogs change on disk."""
    for cached in (catalog, translations, marked, _complete):
        cached.cache_clear()


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
    """A term of the domain's vocabulary (a phase, a stakeholder type, a category name) in
    the current language: a ``Localized`` term's own version, else the catalog's."""
    if isinstance(term, Localized) and (own := term.versions.get(_current.get())):
        return own
    return gettext(term, "vocab")


def when(moment: datetime, zone: str, lang: str | None = None) -> str:
    """A date and time as the language writes it, in ``zone``, with the zone named and UTC:
    ``Monday, 20 February 2017, 23:59 Central European Standard Time (22:59 UTC)``."""
    lang = lang or _current.get()
    form = _FORMATS.get(lang, lang)
    local = moment.astimezone(ZoneInfo(zone))
    # The language's own order of date and time ("{1}, {0}"), its full date, a 24-hour clock.
    pattern = str(get_datetime_format("full", locale=form)).replace("'", "")
    text = pattern.replace("{1}", format_date(local, "full", locale=form)).replace(
        "{0}", format_skeleton("Hm", local, locale=form)
    )
    name = get_timezone_name(local, width="long", locale=form)
    utc = f"{format_skeleton('Hm', moment.astimezone(UTC), locale=form)} UTC"
    if lang in RTL:
        # Isolated left to right: in an Arabic line "22:59 UTC" would otherwise show as
        # "UTC 22:59" (a number then Latin letters in a right-to-left paragraph).
        utc = f"\u2066{utc}\u2069"
    return f"{text} {name} ({utc})"


def number(value: float | str, lang: str | None = None, decimals: int | None = None) -> str:
    """``1,234.5`` as the language writes it (``1 234,5`` in French); with ``decimals``,
    exactly that many digits after the separator (``36.0``, a percentage to one decimal)."""
    lang = lang or _current.get()
    form = _FORMATS.get(lang, lang)
    if decimals is None:
        return format_decimal(Decimal(str(value)), locale=form)
    pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
    return format_decimal(Decimal(str(value)), format=pattern, locale=form)


def listed(items: Iterable[str], lang: str | None = None) -> str:
    """``items`` as the language lists them (CLDR): ``C1, C4 and C9``, ``C1, C4 et C9``,
    ``C1、C4和C9``."""
    lang = lang or _current.get()
    return format_list([str(item) for item in items], locale=_FORMATS.get(lang, lang))


def local(text: str, versions: Mapping[str, str] | None, lang: str | None = None) -> str:
    """Data that people read, given per language in the cycle file (a cycle's title, a
    contest's name): the version in ``lang`` (the current language), else ``text``, English."""
    return (versions or {}).get(lang or _current.get()) or text


@lru_cache
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
    every template uses: the filters ``when``, ``number``, ``vocab``, ``listed`` (a list,
    ``C1, C4 and C9``) and ``local`` (a title given per language:
    ``{{ window.title|local(window.titles) }}``), and ``direction()`` for ``dir``."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # translators see each sentence on one line
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: gettext(message, domain),
        lambda singular, plural, n: ngettext(singular, plural, n, domain),
        newstyle=True,
        pgettext=lambda context, message: pgettext(context, message, domain),
    )
    env.filters["when"] = lambda moment, zone: when(moment, zone)
    env.filters["number"] = lambda value, decimals=None: number(value, decimals=decimals)
    env.filters["vocab"] = vocab
    env.filters["listed"] = lambda items: listed(items)
    env.filters["local"] = lambda text, versions: local(text, versions)
    env.globals["direction"] = direction
    env.globals["current_language"] = current
    env.globals["language_name"] = language_name
    return env
