"""The cycle file's field types: durations, time zones, instants, one-line texts, links, text
given per language, and the check of an offset against its time zone.

Each type carries its own check, so that a model of ``models.cycle`` declares a field by its
type alone; like those models, they run at the edges only (``starter.py check`` and
``start``, the validators of secretariat changes), never when a workflow decodes its input.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from models.text import line_problem
from models.vocab import Language

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s)\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str) and (m := _DURATION.match(value)):
        try:
            return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
        except OverflowError:
            raise ValueError(f"the duration {value!r} is too long") from None
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


def _check_zone(name: Any) -> Any:
    if not isinstance(name, str):
        return name  # pydantic refuses it as not a string
    if name not in _zones():
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Zurich)")
    return name


_zone_cache: set[str] | None = None


def _zones() -> set[str]:
    global _zone_cache
    if _zone_cache is None:
        _zone_cache = available_timezones()
    return _zone_cache


TimeZoneName = Annotated[str, BeforeValidator(_check_zone)]


# A cycle's dates lie well inside this range; outside it, converting an instant between
# time zones could overflow the datetime type.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2200


def _plausible(when: datetime) -> datetime:
    try:
        year = when.astimezone(UTC).year
    except OverflowError:
        year = when.year
    if not EARLIEST_YEAR <= year < LATEST_YEAR:
        raise ValueError(
            f"{when.isoformat()} is out of range: a cycle's dates lie between the years "
            f"{EARLIEST_YEAR} and {LATEST_YEAR}"
        )
    return when


Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]


def _single_line(limit: int) -> Callable[[str], str]:
    def check(text: str) -> str:
        if why := line_problem(text):
            raise ValueError(why)
        if len(text) > limit:
            raise ValueError(f"at most {limit} characters (this one has {len(text):,})")
        return text

    return check


# What the cycle file names and titles end up in: email subjects, .ics files, the terminal.
Title = Annotated[str, AfterValidator(_single_line(200))]
Venue = Annotated[str, AfterValidator(_single_line(300))]
URL_LIMIT = 2000


def _web_link(url: str) -> str:
    if line_problem(url) or any(ch.isspace() for ch in url):
        raise ValueError("must be one link, without spaces or line breaks")
    if len(url) > URL_LIMIT:
        raise ValueError(f"at most {URL_LIMIT} characters (this one has {len(url):,})")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("https", "http") or not parts.netloc:
        raise ValueError(f"must be an https:// link (or http:// for local use), not {url!r}")
    return url


WebLink = Annotated[str, AfterValidator(_web_link)]

_LANGUAGES = tuple(lang.value for lang in Language)


def _known_languages(given: Mapping[str, str]) -> Mapping[str, str]:
    if unknown := sorted(set(given) - set(_LANGUAGES)):
        raise ValueError(f"unknown language(s) {', '.join(unknown)}: use {', '.join(_LANGUAGES)}")
    return given


# A title, a name or a venue in other languages than English (language -> text).
Titles = Annotated[Mapping[str, Title], AfterValidator(_known_languages)]
Venues = Annotated[Mapping[str, Venue], AfterValidator(_known_languages)]


def split_languages(data: Any, pairs: Mapping[str, str]) -> Any:
    """Text that people read, given per language in the cycle file: ``title = { en =
    "WSIS Forum 2026", fr = "Forum du SMSI 2026" }`` becomes ``title`` (the English, required)
    and ``titles`` (the others), for each (field, versions field) of ``pairs``. A plain string
    stays as it is (English for every reader)."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for name, versions in pairs.items():
        given = data.get(name)
        if not isinstance(given, Mapping):
            continue
        if versions in data:
            raise ValueError(f"{name}: give the languages in {name} or in {versions}, not both")
        if not isinstance(given.get("en"), str):
            raise ValueError(f"{name}: the English text (en = ...) is required")
        data[name] = given["en"]
        data[versions] = {k: v for k, v in given.items() if k != "en"}
    return data


def offset_problem(label: str, when: datetime, zone: str) -> str | None:
    """Why ``when``'s UTC offset is wrong for ``zone`` on that date, or None if it is right."""
    offset = when.utcoffset()
    if offset in (None, timedelta(0)) or zone not in _zones():
        return None
    expected = when.astimezone(ZoneInfo(zone)).utcoffset()
    if offset != expected:
        return (
            f"{label}: offset {_fmt_offset(offset)} does not match {zone} on "
            f"{when.date().isoformat()} (expected {_fmt_offset(expected)})"
        )
    return None


def _fmt_offset(offset: timedelta | None) -> str:
    total = int((offset or timedelta(0)).total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    return f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
