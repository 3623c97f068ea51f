"""What a workflow carries of a cycle: plain frozen snapshots of its dates and rules.

A workflow decodes its input again at every replay, for the nine months a cycle runs and over
many deploys. These models therefore hold plain values only: no validator, no time-zone
lookup, no rule that a later release might tighten. The cycle file's rules (``models.cycle``)
subclass them and add the checks, which run at the edges: ``starter.py check`` and ``start``,
and the validators of secretariat changes (validators are not run on replay).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models import ids
from models.phases import OCP_MEETING_PHASES
from models.vocab import Language

GENEVA = "Europe/Zurich"


class Snapshot(BaseModel):
    """Frozen, and tolerant of fields a later release has dropped."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class ContestKind(StrEnum):
    PRIZES = "prizes"
    SPECIAL = "special"
    PHOTO = "photo"


class BallotRule(StrEnum):
    """Which of a voter's ballots count at the tally."""

    ANY = "any"  # every valid ballot counts
    ALL_CATEGORIES = "all-categories"  # only voters who voted in every category (2013 rule)


def in_language(text: str, versions: Mapping[str, str], language: str) -> str:
    """Data given per language in the cycle file (a title, a venue): the reader's version,
    else ``text``, the English one."""
    return versions.get(language) or text


class MeetingPlan(Snapshot):
    """A physical meeting of the consultation, with remote participation."""

    phase: str = Field(description="The OCP phase the meeting belongs to (II, III, V or VI).")
    title: str
    starts: datetime
    ends: datetime
    timezone: str = GENEVA
    venue: str
    remote_url: str | None = None
    virtual_only: bool = False
    # The title and venue in other languages (the cycle file's ``titles = { fr = "..." }``,
    # ``venues = { ... }``): each reader gets theirs, else the English ``title`` and ``venue``.
    titles: Mapping[str, str] = Field(default_factory=dict)
    venues: Mapping[str, str] = Field(default_factory=dict)

    @field_validator("titles", "venues")
    @classmethod
    def _known_languages(cls, given: Mapping[str, str]) -> Mapping[str, str]:
        unknown = sorted(set(given) - {lang.value for lang in Language})
        if unknown:
            raise ValueError(
                f"unknown language(s) {', '.join(unknown)}: use en, fr, es, pt, ru, zh, ar"
            )
        return given

    def title_in(self, language: str) -> str:
        """The title as the reader of ``language`` reads it (English when not given)."""
        return in_language(self.title, self.titles, language)

    def venue_in(self, language: str) -> str:
        return in_language(self.venue, self.venues, language)


class OcpRemindersPlan(Snapshot):
    """When the automatic OCP emails go out, counted back from their date."""

    deadline: tuple[timedelta, ...] = Field(
        default=(timedelta(days=7), timedelta(days=1)),
        description="Reminders to those who have not submitted, before the deadline.",
    )
    invitation: timedelta = Field(default=timedelta(days=14), description="Before a meeting.")
    meeting: timedelta = Field(default=timedelta(days=1), description="Reminder before a meeting.")


class OcpPlan(Snapshot):
    """The Open Consultation Process: six phases."""

    timezone: str = GENEVA
    opens: datetime = Field(description="Phase I: the submission form opens.")
    submission_deadline: datetime = Field(description="Phase IV: the form closes.")
    final_brief: datetime | None = Field(
        default=None, description="Phase VI; may be omitted when phase VI is held as a meeting."
    )
    # Set by a start with --skip-past, never by a cycle file: steps dated before it apply
    # their state (a window opens, closes) but send no message (services/cycles.py).
    quiet_before: datetime | None = None
    meetings: Mapping[str, MeetingPlan] = Field(default_factory=dict)
    reminders: OcpRemindersPlan = Field(default_factory=OcpRemindersPlan)

    def meeting_for(self, code: str) -> tuple[str, MeetingPlan] | None:
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

    def with_forum_dates(
        self, final_brief: datetime | None, meetings: Mapping[str, MeetingPlan]
    ) -> OcpPlan:
        """The dates its cycle moved with the Forum: the final brief and phase VI's meetings
        (computed and checked at the edge; a workflow only applies them)."""
        merged = {**self.meetings, **meetings}
        return self.model_copy(update={"final_brief": final_brief, "meetings": merged})


class CategoryPlan(Snapshot):
    """A prize category: one per WSIS Action Line (C7 split into its e-applications)."""

    code: str
    name: str
    # Added in release 19: the name in other languages (a contest's own category; the
    # default ones are translated by the catalogs). A default, so old histories decode.
    names: Mapping[str, str] = Field(default_factory=dict)


class CriterionPlan(Snapshot):
    """One criterion of the Expert Group's score sheet: its weight and its scale."""

    code: str
    name: str
    weight: float = 1.0
    low: int = 1
    high: int = 10


DEFAULT_RUBRIC = (CriterionPlan(code="overall", name="Overall"),)


class ContestPlan(Snapshot):
    """A prize contest (the WSIS Prizes, a special prize, the photo contest): five phases."""

    slug: str
    name: str
    kind: ContestKind = ContestKind.PRIZES
    timezone: str = GENEVA
    submission_opens: datetime = Field(description="Phase I begins.")
    submission_deadline: datetime = Field(description="Phase I ends; phase II begins.")
    voting_opens: datetime = Field(description="Phase III begins; phase II ends.")
    voting_closes: datetime = Field(description="Phase III ends; phase IV begins.")
    champions_announced: datetime = Field(description="Phase IV ends: Champions announced.")
    ceremony: datetime = Field(description="Phase V: the WSIS Prize Ceremony.")
    # Set by a start with --skip-past, never by a cycle file: steps dated before it apply
    # their state (a window opens, closes) but send no message (services/cycles.py).
    quiet_before: datetime | None = None
    categories: tuple[CategoryPlan, ...] = ()
    shortlist_size: int = 5
    winners_per_category: int = 1
    description_words: tuple[int, int] = (150, 200)
    ballot_rule: BallotRule = BallotRule.ANY
    reminders: tuple[timedelta, ...] = Field(
        default=(timedelta(days=7), timedelta(days=1)),
        description="Submission reminders, counted back from the current deadline.",
    )
    # Added in release 17 (Phase IV in the console): defaults, so that a history recorded
    # before decodes as before.
    rubric: tuple[CriterionPlan, ...] = Field(
        default=DEFAULT_RUBRIC, description="The Expert Group's score sheet (phase IV)."
    )
    # Added with the Expert Group's reminders (the ``phase-four-duties`` patch): a default,
    # so that histories recorded before decode as before.
    expert_reminders: tuple[timedelta, ...] = Field(
        default=(timedelta(days=7), timedelta(days=2)),
        description="Reminders to the experts who have not finished, before phase IV ends.",
    )

    # Added in release 18: the name in other languages (language -> name); English is
    # ``name``. A default, so that a history recorded before decodes as before.
    names: Mapping[str, str] = Field(default_factory=dict)

    def name_in(self, language: str) -> str:
        """The contest's name as the reader of ``language`` reads it (English when not given)."""
        return in_language(self.name, self.names, language)

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


class ForumPlan(Snapshot):
    """The event the cycle prepares."""

    starts: datetime
    ends: datetime
    venue: str = "ITU Headquarters, Geneva"
    venues: Mapping[str, str] = Field(default_factory=dict)  # release 18: other languages

    def venue_in(self, language: str) -> str:
        return in_language(self.venue, self.venues, language)


RECIPIENTS_PER_SHARD = 100_000
MAX_DEFAULT_SHARDS = 8


def default_shards(recipients: int) -> int:
    """One shard per 100,000 recipients (300,000: 3), at most 8: a shard is one campaign
    activity with its own SMTP connections, run by whichever worker polls."""
    return max(1, min(MAX_DEFAULT_SHARDS, -(-recipients // RECIPIENTS_PER_SHARD)))


class CyclePlan(Snapshot):
    """One annual cycle: the OCP and the contests that prepare one WSIS Forum."""

    year: int
    title: str | None = None
    id: str | None = None
    timezone: str = GENEVA
    forum: ForumPlan
    ocp: OcpPlan
    contests: tuple[ContestPlan, ...] = ()
    campaign_shards: int | None = Field(
        default=None,
        description="Shards of each campaign to the whole community (default: from the "
        "registry's size when the cycle starts)",
    )
    # Added in release 18: the title in other languages (language -> title); English is
    # ``title``. A default, so that a history recorded before decodes as before.
    titles: Mapping[str, str] = Field(default_factory=dict)

    @property
    def cycle_id(self) -> str:
        """The parent workflow id: ``wsis-2017`` (or the file's explicit ``id``)."""
        return self.id or ids.cycle_id(self.year)

    @property
    def display_title(self) -> str:
        return self.title or f"WSIS Forum {self.year}"

    def title_in(self, language: str) -> str:
        """The cycle's title as the reader of ``language`` reads it (English when not given)."""
        return in_language(self.display_title, self.titles, language)

    @property
    def ocp_id(self) -> str:
        return ids.ocp_id(self.cycle_id)

    def contest_id(self, contest: ContestPlan) -> str:
        return ids.contest_id(self.cycle_id, contest.slug)
