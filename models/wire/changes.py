"""The secretariat's changes to a running cycle, as Temporal update arguments.

Update arguments stay in the workflow history for years and are shown in the Web UI: who asks
is a role or staff id, never an e-mail address, and the reason is checked for addresses too.
The models hold plain values (a replay decodes them again); ``problems()`` is the check, run
by the CLI before sending and by the workflows' update validators before accepting.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Protocol

from pydantic import BaseModel, BeforeValidator, Field

from models.plan import CyclePlan, MeetingPlan
from models.text import clean_line, line_problem, looks_like_address

MAX_BY = 80
MAX_REASON = 500
MAX_NOTICE = 2000
NOTICE_LANGUAGES = ("en", "fr", "es", "pt", "ru", "zh", "ar")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def _text_problems(label: str, text: str, limit: int) -> list[str]:
    if not clean_line(text):
        return [f"{label} is empty"]
    problems = []
    if len(text) > limit:
        problems.append(f"{label} is longer than {limit} characters")
    if (why := line_problem(text)) is not None:
        problems.append(f"{label} {why}")
    if looks_like_address(text):
        problems.append(f"{label} contains an e-mail address (the history is kept for years)")
    return problems


def _instant(value: object) -> datetime:
    """An ISO 8601 date and time with its UTC offset, read strictly: a text in ISO 8601 (not
    a count of seconds, as pydantic would also take), or a datetime."""
    shown = repr(value[:40]) if isinstance(value, str) else str(value)[:40]
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{shown} is not an ISO 8601 date and time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"{shown} is not a date and time")
    if value.utcoffset() is None:
        raise ValueError(f"{shown} has no UTC offset; add one, e.g. +01:00 or Z")
    return value


# The one reading of a date a change sets, for the CLI's options, the console's form and the
# update's payload alike (a payload from history is an ISO text with its offset). The cycle
# file's ``models.cycle_fields.Instant`` also holds a rule (a plausible year): no wire model may.
AwareInstant = Annotated[datetime, BeforeValidator(_instant)]


def notice_problems(notice: dict[str, str]) -> list[str]:
    """Why a public notice (language -> text) cannot be sent: an unknown language, no
    English (what a language without its own reads), too long, control characters, or an
    e-mail address (update arguments stay in the history)."""
    problems = []
    for lang, text in notice.items():
        if lang not in NOTICE_LANGUAGES:
            problems.append(f"notice: {lang[:10]!r} is not one of {', '.join(NOTICE_LANGUAGES)}")
            continue
        if not text.strip():
            problems.append(f"notice ({lang}) is empty")
        if len(text) > MAX_NOTICE:
            problems.append(f"notice ({lang}) is longer than {MAX_NOTICE} characters")
        if _CONTROLS.search(text):
            problems.append(f"notice ({lang}) contains control or direction characters")
        if looks_like_address(text):
            problems.append(f"notice ({lang}) contains an e-mail address")
    if notice and "en" not in notice:
        problems.append("notice: give it in English too (languages without their own read it)")
    return problems


class Checkable(Protocol):
    """An update argument that says why it cannot be sent (``problems()``, empty: it can)."""

    def problems(self) -> list[str]: ...


class Change(BaseModel):
    """Who asks for a change and why, both kept in the history; what participants read.

    ``reason`` is internal: the audit log and the history, never an e-mail. ``notice`` is
    the public text per language (English is what a language without its own reads).
    """

    requested_by: str = Field(description="A role or staff id ('secretariat', 'jdoe')")
    reason: str
    notice: dict[str, str] = Field(
        default_factory=dict, description="Public notice per language (no personal data)"
    )

    def problems(self) -> list[str]:
        """Why this change cannot be sent, one line each (empty: it can)."""
        return [
            *_text_problems("requested_by", self.requested_by, MAX_BY),
            *_text_problems("reason", self.reason, MAX_REASON),
            *notice_problems(self.notice),
        ]


class DeadlineChange(Change):
    """Extend (or bring forward) a deadline: ``submissions`` or ``voting`` (its close)."""

    deadline: str = "submissions"
    new: AwareInstant


class MeetingChange(Change):
    """Move a meeting or change how it is held; unset fields stay as they are."""

    meeting: str
    starts: AwareInstant | None = None
    ends: AwareInstant | None = None
    timezone: str | None = None
    venue: str | None = None
    remote_url: str | None = None
    virtual_only: bool | None = None
    # The new venue in other languages (release 18): a new venue replaces them all.
    venues: dict[str, str] | None = None


class CeremonyChange(Change):
    """Move the WSIS Prize Ceremony of one contest."""

    at: AwareInstant


class SelectionChange(Change):
    """Move the end of a contest's phase IV (the Expert Group's selection): the Champions'
    announcement, and the experts' reminders counted back from it."""

    ends: AwareInstant


class ForumMove(Change):
    """Move the Forum: the OCP's final brief and every contest's ceremony move with it.

    ``moved`` is the whole cycle as it will be, computed at the edge
    (``models.moves.forum_moved``: the time-zone database keeps each local time across a
    change of summer time, which workflow code may not consult). The cycle's validator
    computes it again from what each process plans now and refuses a stale one.
    """

    starts: AwareInstant
    ends: AwareInstant
    moved: CyclePlan | None = None

    def problems(self) -> list[str]:
        problems = super().problems()
        if not problems and self.ends <= self.starts:
            problems.append("the Forum must end after it starts")
        return problems


class ForumShift(Change):
    """What a cycle tells one of its processes when the Forum moves: the Forum's dates, and
    the new dates of what that process holds at the Forum (already checked)."""

    previous_starts: datetime
    starts: datetime
    ends: datetime
    final_brief: datetime | None = None
    meetings: dict[str, MeetingPlan] = Field(default_factory=dict)
    ceremony: datetime | None = None


class Cancellation(Change):
    """Cancel a process; participants are told unless ``notify`` is False."""

    notify: bool = True


class WinnerSelection(BaseModel):
    """The Expert Group's choice in one category (ids only: history is public to operators)."""

    category: str
    project_ids: list[int]
    requested_by: str = Field(description="Who records it, e.g. 'expert-group' (no e-mail)")

    def problems(self) -> list[str]:
        """Why this selection cannot be sent, one line each."""
        problems = _text_problems("requested_by", self.requested_by, MAX_BY)
        if not self.project_ids:
            problems.append("name at least one winning project")
        return problems
