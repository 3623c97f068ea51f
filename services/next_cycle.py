"""Next year's cycle file from this year's: the same calendar, 52 weeks later.

Every instant moves by 52 weeks (a multiple of seven days: the weekday stays) and keeps its
local wall-clock time in its own time zone (a meeting's, else its process's, else the
cycle's), with the offset that zone has on the new date: an 11:00 JST meeting stays 11:00
JST, a 09:00 Geneva opening in summer time stays 09:00 with +02:00 or +01:00 as the new date
says. The year moves, and so do the titles and names that carry it. Comments and layout are
kept (tomlkit). The result must pass the cycle file's checks, or nothing is written.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tomlkit
from pydantic import BaseModel
from tomlkit.items import AoT, Table

from models.cycle import CycleConfig
from models.cycle_file import load_cycle
from services.cycles import CycleFileRefused, load
from services.errors import INVALID, Refused

WEEKS_A_YEAR = 52
YEAR_KEYS = ("title", "name", "id")  # text that names the cycle and carries its year
# The same text in other languages: ``title = { en = ..., fr = ... }`` or ``titles = {...}``.
YEAR_TABLES = ("title", "name", "titles", "names")


def moved(when: datetime, zone: str, weeks: int) -> datetime:
    """``when`` ``weeks`` weeks later at the same local time in ``zone``, with the offset the
    zone has then (a local time that does not exist that day, in a spring-forward gap, comes
    out one hour later, as a clock reads it)."""
    tz = ZoneInfo(zone)
    local = when.astimezone(tz).replace(tzinfo=None) + timedelta(weeks=weeks)
    placed = local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz)
    offset = placed.utcoffset() or timedelta(0)
    return placed.replace(tzinfo=timezone(offset))


def _child(model: Any, key: str) -> Any:
    if isinstance(model, BaseModel):
        return getattr(model, key.replace("-", "_"), None)
    if isinstance(model, dict):
        return model.get(key)
    return None


def _walk(
    node: Any, model: Any, zone: str, weeks: int, years: tuple[int, int], named: bool = False
) -> None:
    """Move every datetime under the tomlkit ``node``; ``model`` is the same part of the
    validated cycle, which says each part's time zone. ``named``: ``node`` is a title given
    per language, each of whose texts carries the year."""
    zone = getattr(model, "timezone", None) or zone
    for key in list(node.keys()):
        value = node[key]
        sub = _child(model, key)
        if isinstance(value, datetime):
            node[key] = moved(value, zone, weeks)
        elif isinstance(value, str) and named:
            node[key] = value.replace(str(years[0]), str(years[1]))
        elif isinstance(value, Table) or (isinstance(value, dict) and not isinstance(value, AoT)):
            _walk(value, sub, zone, weeks, years, named=key in YEAR_TABLES)
        elif isinstance(value, AoT | list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    part = sub[i] if isinstance(sub, list | tuple) and i < len(sub) else None
                    _walk(item, part, zone, weeks, years)
        elif isinstance(value, str) and key in YEAR_KEYS:
            old, new = years
            node[key] = value.replace(str(old), str(new))


def next_cycle_text(source: Path, year: int) -> tuple[str, CycleConfig]:
    """The text of the cycle file for ``year`` made from ``source``, and the cycle it reads
    as; ``Refused`` if ``year`` is not later or the result fails the checks."""
    cycle = load(source)
    if year <= cycle.year:
        raise Refused(f"--year {year}: give a year after {cycle.year}", INVALID)
    weeks = WEEKS_A_YEAR * (year - cycle.year)
    doc = tomlkit.parse(source.read_text(encoding="utf-8"))
    _walk(doc, cycle, cycle.timezone, weeks, (cycle.year, year))
    doc["year"] = year
    text = tomlkit.dumps(doc)
    with tempfile.TemporaryDirectory() as tmp:
        draft = Path(tmp) / f"{year}.toml"
        draft.write_text(text, encoding="utf-8")
        try:
            result = load_cycle(draft)
        except Exception as exc:  # ConfigError: the moved calendar breaks a rule
            problems = getattr(exc, "problems", [str(exc)])
            raise CycleFileRefused(f"the {year} cycle", list(problems)) from None
    return text, result


def write_next_cycle(source: Path, year: int, out: Path) -> CycleConfig:
    """Write next year's cycle file to ``out`` (never over an existing file)."""
    text, result = next_cycle_text(source, year)
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise Refused(f"{out}: exists; nothing was written (choose another -o)", INVALID) from None
    except OSError as exc:
        raise Refused(f"{out}: {exc.strerror}", INVALID) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    return result
