"""The cycle file's rules: one TOML file per annual cycle, checked by these models.

Each model extends the plain snapshot a workflow carries (``models.plan``) with the checks
of the cycle file, so that a field is declared once. Every instant is an offset-aware datetime
(``2017-02-20T23:59:59+01:00``). Each process and meeting names its time zone (Geneva,
``Europe/Zurich``, by default); an offset that disagrees with that zone on that date is
refused, which catches the classic summer/winter-time slip. Offsets in UTC (``Z``) are always
accepted. Durations are written ``"7d"``, ``"36h"``, ``"90m"`` or in ISO 8601 (``"P7D"``).
The field types and their checks are in ``models.cycle_fields``.

These checks run at the edges only (``starter.py check`` and ``start``, the validators of
secretariat changes): never when a workflow decodes its input.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from models.cycle_fields import (
    Duration,
    Instant,
    TimeZoneName,
    Title,
    Titles,
    Venue,
    Venues,
    WebLink,
    offset_problem,
    split_languages,
)
from models.phases import OCP_MEETING_PHASES, OCP_PHASES
from models.plan import (
    GENEVA,
    CategoryPlan,
    ContestPlan,
    CriterionPlan,
    CyclePlan,
    ForumPlan,
    MeetingPlan,
    OcpPlan,
    OcpRemindersPlan,
)
from models.vocab import N_


class _Checked(BaseModel):
    """The cycle file refuses unknown fields (a typo must not pass silently)."""

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


class Meeting(MeetingPlan, _Checked):
    """A physical meeting of the consultation, with remote participation."""

    title: Title
    starts: Instant
    ends: Instant
    timezone: TimeZoneName = GENEVA
    venue: Venue
    remote_url: WebLink | None = None
    titles: Titles = Field(default_factory=dict)
    venues: Venues = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _languages(cls, data: Any) -> Any:
        return split_languages(data, {"title": "titles", "venue": "venues"})

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


class OcpReminders(OcpRemindersPlan, _Checked):
    """When the automatic OCP emails go out, counted back from their date."""

    deadline: tuple[Duration, ...] = Field(
        default=(timedelta(days=7), timedelta(days=1)),
        description="Reminders to those who have not submitted, before the deadline.",
    )
    invitation: Duration = Field(default=timedelta(days=14), description="Before a meeting.")
    meeting: Duration = Field(default=timedelta(days=1), description="Reminder before a meeting.")


class OcpConfig(OcpPlan, _Checked):
    """The Open Consultation Process: six phases."""

    timezone: TimeZoneName = GENEVA
    opens: Instant = Field(description="Phase I: the submission form opens.")
    submission_deadline: Instant = Field(description="Phase IV: the form closes.")
    final_brief: Instant | None = Field(
        default=None, description="Phase VI; may be omitted when phase VI is held as a meeting."
    )
    meetings: Mapping[str, Meeting] = Field(default_factory=dict)
    reminders: OcpReminders = Field(default_factory=OcpReminders)

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
        order: list[str] = [p.code for p in OCP_PHASES]
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


class Category(CategoryPlan, _Checked):
    """A prize category: one per WSIS Action Line (C7 split into its e-applications). A
    contest's own category may give its name per language: ``name = { en = "…", fr = "…" }``
    (the default categories' names are translated by the catalogs)."""

    code: Title
    name: Title
    names: Titles = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _languages(cls, data: Any) -> Any:
        return split_languages(data, {"name": "names"})


DEFAULT_CATEGORIES: tuple[Category, ...] = tuple(
    Category(code=c, name=n)
    for c, n in (
        ("C1", N_("The role of public governance authorities and all stakeholders")),
        ("C2", N_("Information and communication infrastructure")),
        ("C3", N_("Access to information and knowledge")),
        ("C4", N_("Capacity building")),
        ("C5", N_("Building confidence and security in the use of ICTs")),
        ("C6", N_("Enabling environment")),
        ("C7-e-government", N_("ICT applications: e-government")),
        ("C7-e-business", N_("ICT applications: e-business")),
        ("C7-e-learning", N_("ICT applications: e-learning")),
        ("C7-e-health", N_("ICT applications: e-health")),
        ("C7-e-employment", N_("ICT applications: e-employment")),
        ("C7-e-environment", N_("ICT applications: e-environment")),
        ("C7-e-agriculture", N_("ICT applications: e-agriculture")),
        ("C7-e-science", N_("ICT applications: e-science")),
        ("C8", N_("Cultural diversity and identity, linguistic diversity and local content")),
        ("C9", N_("Media")),
        ("C10", N_("Ethical dimensions of the Information Society")),
        ("C11", N_("International and regional cooperation")),
    )
)


class Criterion(CriterionPlan, _Checked):
    """A criterion of the Expert Group's score sheet, e.g.
    ``{ code = "impact", name = "Impact", weight = 2, low = 1, high = 10 }``."""

    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=40)
    name: Title
    weight: float = Field(default=1.0, gt=0, le=100)
    low: int = Field(default=1, ge=0, le=1000)
    high: int = Field(default=10, ge=1, le=1000)

    @model_validator(mode="after")
    def _scale(self) -> Self:
        if self.low >= self.high:
            raise ValueError(f"criterion {self.code}: low must be below high")
        return self


class ContestConfig(ContestPlan, _Checked):
    """A prize contest (the WSIS Prizes, a special prize, the photo contest): five phases."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: Title
    timezone: TimeZoneName = GENEVA
    submission_opens: Instant = Field(description="Phase I begins.")
    submission_deadline: Instant = Field(description="Phase I ends; phase II begins.")
    voting_opens: Instant = Field(description="Phase III begins; phase II ends.")
    voting_closes: Instant = Field(description="Phase III ends; phase IV begins.")
    champions_announced: Instant = Field(description="Phase IV ends: Champions announced.")
    ceremony: Instant = Field(description="Phase V: the WSIS Prize Ceremony.")
    categories: tuple[Category, ...] = DEFAULT_CATEGORIES
    shortlist_size: int = Field(default=5, ge=1)
    winners_per_category: int = Field(default=1, ge=1)
    reminders: tuple[Duration, ...] = Field(
        default=(timedelta(days=7), timedelta(days=1)),
        description="Submission reminders, counted back from the current deadline.",
    )
    rubric: tuple[Criterion, ...] = Field(
        default=(Criterion(code="overall", name="Overall"),),
        description="The Expert Group's score sheet: criteria with weights and a scale.",
    )
    expert_reminders: tuple[Duration, ...] = Field(
        default=(timedelta(days=7), timedelta(days=2)),
        description="Reminders to the experts who have not finished scoring, counted back "
        "from the end of phase IV (the Champions' announcement).",
    )

    names: Titles = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _languages(cls, data: Any) -> Any:
        return split_languages(data, {"name": "names"})

    @field_validator("categories", mode="before")
    @classmethod
    def _categories(cls, value: Any) -> Any:
        # Allow a short list of codes in the file: ["C1", "C2"] means those default categories.
        # An unknown code becomes a category of that name, checked like any other (a plain
        # dict, so that a refusal names its place in the file).
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            by_code = {c.code: c for c in DEFAULT_CATEGORIES}
            return [by_code.get(v) or {"code": v, "name": v} for v in value]
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
        criteria = [c.code for c in self.rubric]
        if not criteria or len(set(criteria)) != len(criteria):
            problems.append("rubric: at least one criterion, each code once")
        if any(span <= timedelta(0) for span in self.expert_reminders):
            problems.append('expert_reminders: each must be a positive duration, e.g. "7d"')
        if self.winners_per_category > self.shortlist_size:
            problems.append("winners_per_category cannot exceed shortlist_size")
        low, high = self.description_words
        if not 0 < low <= high:
            problems.append(
                "description_words must be [minimum, maximum] with 0 < minimum <= maximum"
            )
        _ensure(problems)
        return self


class Forum(ForumPlan, _Checked):
    """The event the cycle prepares."""

    starts: Instant
    ends: Instant
    venue: Venue = "ITU Headquarters, Geneva"
    venues: Venues = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _languages(cls, data: Any) -> Any:
        return split_languages(data, {"venue": "venues"})

    @model_validator(mode="after")
    def _check(self) -> Self:
        _ensure(_in_order([("forum starts", self.starts), ("forum ends", self.ends)]))
        return self


class CycleConfig(CyclePlan, _Checked):
    """One annual cycle: the OCP and the contests that prepare one WSIS Forum."""

    year: int = Field(ge=2003, le=2100)
    title: Title | None = None
    id: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9-]*$")
    timezone: TimeZoneName = GENEVA
    forum: Forum
    ocp: OcpConfig
    contests: tuple[ContestConfig, ...] = ()
    campaign_shards: int | None = Field(default=None, ge=1, le=64)
    titles: Titles = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _languages(cls, data: Any) -> Any:
        return split_languages(data, {"title": "titles"})

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
