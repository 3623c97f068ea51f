"""The cycle file: one TOML file per annual cycle, validated by these pydantic models.

Every instant is an offset-aware datetime (``2017-02-20T23:59:59+01:00``). Each process and
meeting names its time zone (Geneva, ``Europe/Zurich``, by default); an offset that disagrees
with that zone on that date is refused, which catches the classic summer/winter-time slip.
Offsets in UTC (``Z``) are always accepted. Durations are written ``"7d"``, ``"36h"``,
``"90m"`` or in ISO 8601 (``"P7D"``).
"""

from __future__ import annotations

import copy
import itertools
import re
import tomllib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar
from zoneinfo import ZoneInfo, available_timezones

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models import ids
from models.phases import OCP_MEETING_PHASES, OCP_PHASES

GENEVA = "Europe/Zurich"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s)\s*$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def _parse_duration(value: Any) -> Any:
    if isinstance(value, str) and (m := _DURATION.match(value)):
        return timedelta(**{_UNITS[m.group(2)]: float(m.group(1))})
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration)]


def _check_zone(name: str) -> str:
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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ensure(problems: list[str]) -> None:
    if problems:
        raise ValueError("; ".join(problems))


def _in_order(steps: Iterable[tuple[str, datetime]], *, strict: bool = True) -> list[str]:
    problems: list[str] = []
    items = list(steps)
    for (a_name, a), (b_name, b) in itertools.pairwise(items):
        if b < a or (strict and b == a):
            problems.append(
                f"{b_name} ({b.isoformat()}) must come after {a_name} ({a.isoformat()})"
            )
    return problems


class Meeting(_Model):
    """A physical meeting of the consultation, with remote participation."""

    phase: str = Field(description="The OCP phase the meeting belongs to (II, III, V or VI).")
    title: str
    starts: AwareDatetime
    ends: AwareDatetime
    timezone: TimeZoneName = GENEVA
    venue: str
    remote_url: str | None = None
    virtual_only: bool = False

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = [
            p
            for p in (
                offset_problem("starts", self.starts, self.timezone),
                offset_problem("ends", self.ends, self.timezone),
            )
            if p
        ]
        if self.ends <= self.starts:
            problems.append("ends must come after starts")
        if self.phase not in {p.code for p in OCP_PHASES}:
            problems.append(f"phase {self.phase!r} is not an OCP phase (I to VI)")
        _ensure(problems)
        return self


class OcpReminders(_Model):
    """When the automatic OCP emails go out, counted back from their date."""

    deadline: list[Duration] = Field(
        default_factory=lambda: [timedelta(days=7), timedelta(days=1)],
        description="Reminders to those who have not submitted, before the deadline.",
    )
    invitation: Duration = Field(default=timedelta(days=14), description="Before a meeting.")
    meeting: Duration = Field(default=timedelta(days=1), description="Reminder before a meeting.")


class OcpConfig(_Model):
    """The Open Consultation Process: six phases."""

    timezone: TimeZoneName = GENEVA
    opens: AwareDatetime = Field(description="Phase I: the submission form opens.")
    submission_deadline: AwareDatetime = Field(description="Phase IV: the form closes.")
    final_brief: AwareDatetime | None = Field(
        default=None, description="Phase VI; may be omitted when phase VI is held as a meeting."
    )
    meetings: dict[str, Meeting] = Field(default_factory=dict)
    reminders: OcpReminders = Field(default_factory=OcpReminders)

    def meeting_for(self, code: str) -> tuple[str, Meeting] | None:
        """The first meeting (by start) of phase ``code``, with its key."""
        found = sorted(
            ((k, m) for k, m in self.meetings.items() if m.phase == code),
            key=lambda km: km[1].starts,
        )
        return found[0] if found else None

    def phase_starts(self) -> dict[str, datetime]:
        """Phase code -> the instant it begins (only the phases that can be dated)."""
        starts: dict[str, datetime] = {"I": self.opens, "IV": self.submission_deadline}
        for code in (*OCP_MEETING_PHASES, "VI"):
            if (found := self.meeting_for(code)) is not None:
                starts[code] = found[1].starts
        if self.final_brief is not None:
            starts["VI"] = self.final_brief
        return starts

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = [
            p
            for p in (
                offset_problem("opens", self.opens, self.timezone),
                offset_problem("submission_deadline", self.submission_deadline, self.timezone),
                offset_problem("final_brief", self.final_brief, self.timezone)
                if self.final_brief
                else None,
            )
            if p
        ]
        starts = self.phase_starts()
        for code in OCP_MEETING_PHASES:
            if code not in starts:
                problems.append(
                    f"phase {code} needs a meeting (a [ocp.meetings.*] with phase = {code!r})"
                )
        if "VI" not in starts:
            problems.append("phase VI needs a date: final_brief, or a meeting with phase = 'VI'")
        dated = [
            (f"phase {p.code} ({p.name})", starts[p.code]) for p in OCP_PHASES if p.code in starts
        ]
        problems += _in_order(dated)
        order = [p.code for p in OCP_PHASES]
        for key, m in self.meetings.items():
            if m.phase not in order:
                continue
            if order.index(m.phase) < order.index("IV") and m.ends > self.submission_deadline:
                problems.append(
                    f"meeting {key!r} ({m.ends.isoformat()}) ends after the submissions deadline "
                    f"({self.submission_deadline.isoformat()}) it precedes"
                )
            nxt = order.index(m.phase) + 1
            if nxt < len(order) and order[nxt] in starts and m.starts >= starts[order[nxt]]:
                problems.append(f"meeting {key!r} starts after phase {order[nxt]} has begun")
            if m.starts < starts.get(m.phase, m.starts):
                problems.append(f"meeting {key!r} starts before its phase {m.phase}")
        _ensure(problems)
        return self


class ContestKind(StrEnum):
    PRIZES = "prizes"
    SPECIAL = "special"
    PHOTO = "photo"


class Category(_Model):
    """A prize category: one per WSIS Action Line (C7 split into its e-applications)."""

    code: str
    name: str


DEFAULT_CATEGORIES: tuple[Category, ...] = tuple(
    Category(code=c, name=n)
    for c, n in (
        ("C1", "The role of public governance authorities and all stakeholders"),
        ("C2", "Information and communication infrastructure"),
        ("C3", "Access to information and knowledge"),
        ("C4", "Capacity building"),
        ("C5", "Building confidence and security in the use of ICTs"),
        ("C6", "Enabling environment"),
        ("C7-e-government", "ICT applications: e-government"),
        ("C7-e-business", "ICT applications: e-business"),
        ("C7-e-learning", "ICT applications: e-learning"),
        ("C7-e-health", "ICT applications: e-health"),
        ("C7-e-employment", "ICT applications: e-employment"),
        ("C7-e-environment", "ICT applications: e-environment"),
        ("C7-e-agriculture", "ICT applications: e-agriculture"),
        ("C7-e-science", "ICT applications: e-science"),
        ("C8", "Cultural diversity and identity, linguistic diversity and local content"),
        ("C9", "Media"),
        ("C10", "Ethical dimensions of the Information Society"),
        ("C11", "International and regional cooperation"),
    )
)


class BallotRule(StrEnum):
    """Which of a voter's ballots count at the tally."""

    ANY = "any"  # every valid ballot counts
    ALL_CATEGORIES = "all-categories"  # only voters who voted in every category (2013 rule)


class ContestConfig(_Model):
    """A prize contest (the WSIS Prizes, a special prize, the photo contest): five phases."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str
    kind: ContestKind = ContestKind.PRIZES
    timezone: TimeZoneName = GENEVA
    submission_opens: AwareDatetime = Field(description="Phase I begins.")
    submission_deadline: AwareDatetime = Field(description="Phase I ends; phase II begins.")
    voting_opens: AwareDatetime = Field(description="Phase III begins; phase II ends.")
    voting_closes: AwareDatetime = Field(description="Phase III ends; phase IV begins.")
    champions_announced: AwareDatetime = Field(description="Phase IV ends: Champions announced.")
    ceremony: AwareDatetime = Field(description="Phase V: the WSIS Prize Ceremony.")
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    shortlist_size: int = Field(default=5, ge=1)
    winners_per_category: int = Field(default=1, ge=1)
    description_words: tuple[int, int] = Field(default=(150, 200))
    ballot_rule: BallotRule = BallotRule.ANY
    reminders: list[Duration] = Field(
        default_factory=lambda: [timedelta(days=7), timedelta(days=1)],
        description="Submission reminders, counted back from the current deadline.",
    )

    @property
    def process_suffix(self) -> str:
        """``prizes`` for the WSIS Prizes, ``prize-<slug>`` for the others."""
        return ids.process_suffix(self.slug)

    def phase_starts(self) -> dict[str, datetime]:
        return {
            "I": self.submission_opens,
            "II": self.submission_deadline,
            "III": self.voting_opens,
            "IV": self.voting_closes,
            "V": self.ceremony,
        }

    @field_validator("categories", mode="before")
    @classmethod
    def _categories(cls, value: Any) -> Any:
        # Allow a short list of codes in the file: ["C1", "C2"] means those default categories.
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            by_code = {c.code: c for c in DEFAULT_CATEGORIES}
            return [by_code.get(v, Category(code=v, name=v)) for v in value]
        return value

    @model_validator(mode="after")
    def _check(self) -> Self:
        dated = [
            ("submission_opens", self.submission_opens),
            ("submission_deadline", self.submission_deadline),
            ("voting_opens", self.voting_opens),
            ("voting_closes", self.voting_closes),
            ("champions_announced", self.champions_announced),
            ("ceremony", self.ceremony),
        ]
        problems = [p for name, when in dated if (p := offset_problem(name, when, self.timezone))]
        problems += _in_order(dated)
        codes = [c.code for c in self.categories]
        if dupes := sorted({c for c in codes if codes.count(c) > 1}):
            problems.append(f"categories are not unique: {', '.join(dupes)}")
        if not codes:
            problems.append("a contest needs at least one category")
        if self.winners_per_category > self.shortlist_size:
            problems.append("winners_per_category cannot exceed shortlist_size")
        low, high = self.description_words
        if not 0 < low <= high:
            problems.append(
                "description_words must be [minimum, maximum] with 0 < minimum <= maximum"
            )
        _ensure(problems)
        return self


class Forum(_Model):
    """The event the cycle prepares."""

    starts: AwareDatetime
    ends: AwareDatetime
    venue: str = "ITU Headquarters, Geneva"

    @model_validator(mode="after")
    def _check(self) -> Self:
        _ensure(_in_order([("forum starts", self.starts), ("forum ends", self.ends)]))
        return self


class CycleConfig(_Model):
    """One annual cycle: the OCP and the contests that prepare one WSIS Forum."""

    year: int = Field(ge=2003, le=2100)
    title: str | None = None
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    timezone: TimeZoneName = GENEVA
    forum: Forum
    ocp: OcpConfig
    contests: list[ContestConfig] = Field(default_factory=list)

    @property
    def cycle_id(self) -> str:
        """The parent workflow id: ``wsis-2017`` (or the file's explicit ``id``)."""
        return self.id or ids.cycle_id(self.year)

    @property
    def display_title(self) -> str:
        return self.title or f"WSIS Forum {self.year}"

    @property
    def ocp_id(self) -> str:
        return ids.ocp_id(self.cycle_id)

    def contest_id(self, contest: ContestConfig) -> str:
        return ids.contest_id(self.cycle_id, contest.slug)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems: list[str] = []
        slugs = [c.slug for c in self.contests]
        if dupes := sorted({s for s in slugs if slugs.count(s) > 1}):
            problems.append(f"contest slugs are not unique: {', '.join(dupes)}")
        last_ocp = max(self.ocp.phase_starts().values())
        if last_ocp >= self.forum.starts:
            problems.append("the OCP's last phase must come before the Forum starts")
        _ensure(problems)
        return self


class ConfigError(Exception):
    """A cycle file that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"] if p not in ("function-after",))
    kind = error["type"]
    if kind == "missing":
        message = "missing field"
    elif kind == "timezone_aware":
        message = f"naive datetime {error['input']}: add a UTC offset, e.g. +01:00 or Z"
    elif kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "value_error":
        message = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
    else:
        message = error["msg"]
    return f"{loc}: {message}" if loc else message


def problem_lines(exc: ValidationError) -> list[str]:
    """One line per problem in ``exc``, as ``check`` prints them."""
    lines: list[str] = []
    for error in exc.errors():
        described = _describe(error)
        # One pydantic error may carry several of our problems joined by "; ".
        loc, _, rest = described.partition(": ")
        parts = rest.split("; ") if rest else [described]
        lines += [f"{loc}: {p}" if rest else p for p in parts]
    return lines


def _in_utc(section: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo and v.utcoffset() else v
        for k, v in section.items()
    }


def _repair(data: Any, exc: ValidationError) -> bool:
    """Patch the fields ``exc`` refused with neutral values, so that a second pass can run the
    cross-field checks (order of phases, meetings against the deadline) that pydantic skips
    while a field of the same section is invalid. Returns whether anything was patched."""
    changed = False
    for error in exc.errors():
        *path, last = error["loc"]
        node = data
        try:
            for part in path:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(node, dict):
            continue
        if error["type"] == "timezone_aware" and isinstance(node.get(last), datetime):
            node[last] = node[last].replace(tzinfo=UTC)
        elif last == "timezone" and error["type"] == "value_error":
            node.update(_in_utc(node), timezone="UTC")
        elif error["type"] == "missing" and last in ("name", "title", "venue"):
            node[last] = "(missing)"
        elif (
            error["type"] == "value_error"
            and isinstance(node.get(last), dict)
            and "does not match" in str(error.get("ctx", {}).get("error", ""))
            and any(isinstance(v, datetime) and v.utcoffset() for v in node[last].values())
        ):
            # A section refused for an offset that does not match its zone: the same instants
            # in UTC let the sections around it be checked.
            node[last] = _in_utc(node[last])
        else:
            continue
        changed = True
    return changed


def parse_cycle(data: dict[str, Any], source: str = "<cycle>") -> CycleConfig:
    """Validate a parsed cycle file; raise ``ConfigError`` with every problem found."""
    try:
        return CycleConfig.model_validate(data)
    except ValidationError as exc:
        problems = problem_lines(exc)
        patched = copy.deepcopy(data)
        for _ in range(3):  # each pass can uncover checks that the previous one skipped
            if not _repair(patched, exc):
                break
            try:
                CycleConfig.model_validate(patched)
                break
            except ValidationError as again:
                problems += [p for p in problem_lines(again) if p not in problems]
                exc = again
        raise ConfigError(source, problems) from None


def load_cycle(path: str | Path) -> CycleConfig:
    """Read and validate a cycle file; raise ``ConfigError`` with every problem found."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_cycle(data, str(path))


M = TypeVar("M", bound=BaseModel)


def map_times(
    model: M, on_instant: Callable[[datetime], datetime], on_span: Callable[[timedelta], timedelta]
) -> M:
    """A copy of ``model`` with every datetime and duration in it mapped (validation re-runs)."""

    def walk(value: Any) -> Any:
        if isinstance(value, datetime):
            return on_instant(value)
        if isinstance(value, timedelta):
            return on_span(value)
        if isinstance(value, BaseModel):
            return {k: walk(getattr(value, k)) for k in type(value).model_fields}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [walk(v) for v in value]
        return value

    return type(model).model_validate(walk(model))


def first_instant(config: CycleConfig) -> datetime:
    """The earliest dated step of the cycle."""
    instants = [*config.ocp.phase_starts().values()]
    instants += [c.submission_opens for c in config.contests]
    return min(instants)


def rebased(config: CycleConfig, start: datetime, *, speedup: float = 1.0) -> CycleConfig:
    """The same cycle moved to begin at ``start``, its calendar ``speedup`` times faster.

    The demo runs a real cycle file squeezed into minutes, and the tests move the 2017
    calendar to the time-skipping server's clock: same workflow code, only the dates differ.
    Instants come out in UTC so that no zone offset check can trip on the move.
    """
    origin = first_instant(config)
    return map_times(
        config,
        lambda t: (start + (t - origin) / speedup).astimezone(UTC),
        lambda d: d / speedup,
    )
