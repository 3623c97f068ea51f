"""Countries as ISO 3166-1 alpha-2 codes, named from CLDR (Babel) in the reader's language.

A country is stored as its code ("LB"), so that the analyses count "Lebanon" and "لبنان" as
one country, and every page and message names it in its reader's language. ``code_for``
recognises a code or a name in any of the seven languages (case, accents and punctuation
aside), and the usual English variants CLDR lists; text it does not recognise is kept as it
was typed (``unmapped`` in the reports lists such values for the Secretariat).
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from babel import Locale

from core import i18n

# CLDR territories that are not countries or areas of ISO 3166-1 (groupings, unknown, the
# private-use codes CLDR assigns).
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})


@cache
def codes() -> tuple[str, ...]:
    """Every country code, in alphabetical order."""
    found = [str(k) for k in Locale("en").territories]
    return tuple(sorted(k for k in found if len(k) == 2 and k.isalpha() and k not in NOT_COUNTRIES))


def name(code: str, lang: str | None = None) -> str:
    """The country's name in ``lang`` (default: the language being spoken); text that is not
    a code comes back as it is."""
    if code not in _known():
        return code
    return str(Locale.parse(lang or i18n.current()).territories.get(code, code))


def choices(lang: str | None = None) -> list[tuple[str, str]]:
    """(code, name) for a select, sorted by name as the reader reads it."""
    named = [(code, name(code, lang)) for code in codes()]
    return sorted(named, key=lambda pair: _folded(pair[1]))


def code_for(text: str) -> str | None:
    """The code of a country given by code or by name in any of the seven languages."""
    value = text.strip()
    if value.upper() in _known():
        return value.upper()
    return _by_name().get(_folded(value))


@cache
def _known() -> frozenset[str]:
    return frozenset(codes())


def _folded(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", " ", bare).strip()


@cache
def _by_name() -> dict[str, str]:
    found: dict[str, str] = {}
    for lang in i18n.LANGUAGES:
        locale = Locale.parse(lang)
        for code in codes():
            names = {locale.territories.get(code, "")}
            for variant in ("short", "variant"):
                names.add(locale.territories.get(f"{code}-alt-{variant}", ""))
            for each in names:
                if each:
                    found.setdefault(_folded(each), code)
    found.update({_folded(k): v for k, v in ALIASES.items()})
    return found


# Names people write that CLDR spells otherwise.
ALIASES = {
    "Turkey": "TR",
    "USA": "US",
    "UK": "GB",
    "Great Britain": "GB",
    "Russia": "RU",
    "South Korea": "KR",
    "Korea": "KR",
    "North Korea": "KP",
    "Vietnam": "VN",
    "Ivory Coast": "CI",
    "Czech Republic": "CZ",
    "Swaziland": "SZ",
    "Macedonia": "MK",
    "Burma": "MM",
    "Cape Verde": "CV",
    "Holland": "NL",
}
