"""What crosses the Temporal wire: small pydantic models of ids, dates and counts.

Nothing here may carry a participant's name or e-mail address: workflow history is read by
operators in the Web UI and kept for years.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, Field, field_validator

from models.cycle import CycleConfig
from models.plan import ContestPlan, MeetingPlan, OcpPlan


class MessageKind(StrEnum):
    """One Jinja2 template per kind and language, under ``mail/templates/<lang>/<kind>.j2``."""

    OCP_OPENING = "ocp_opening"
    MEETING_INVITATION = "meeting_invitation"
    MEETING_REMINDER = "meeting_reminder"
    MEETING_UPDATE = "meeting_update"
    OCP_DEADLINE_REMINDER = "ocp_deadline_reminder"
    OCP_SUBMISSION_ACK = "ocp_submission_ack"
    OCP_ANALYSIS = "ocp_analysis"
    OCP_FINAL_BRIEF = "ocp_final_brief"
    DEADLINE_CHANGED = "deadline_changed"
    PROCESS_CANCELLED = "process_cancelled"
    PRIZE_OPENING = "prize_opening"
    PRIZE_SUBMISSION_REMINDER = "prize_submission_reminder"
    PRIZE_SUBMISSION_ACK = "prize_submission_ack"
    PRIZE_NOMINATION_OUTCOME = "prize_nomination_outcome"
    PRIZE_VOTING_OPEN = "prize_voting_open"
    PRIZE_CHAMPIONS = "prize_champions"
    PRIZE_WINNERS = "prize_winners"
    SECRETARIAT_NOTICE = "secretariat_notice"


class Audience(StrEnum):
    """Who a campaign goes to; resolved to participant ids by a query, inside the activity."""

    EVERYONE = "everyone"
    OCP_NON_SUBMITTERS = "ocp-non-submitters"
    ONE_PARTICIPANT = "one-participant"
    PROJECT_NON_SUBMITTERS = "project-non-submitters"
    NOMINATED_OWNERS = "nominated-owners"
    NOT_NOMINATED_OWNERS = "not-nominated-owners"
    SHORTLISTED_OWNERS = "shortlisted-owners"
    WINNER_OWNERS = "winner-owners"
    SECRETARIAT = "secretariat"


class CampaignRequest(BaseModel):
    """One announcement to one audience. ``key`` is the business key of exactly-once."""

    key: str = Field(description="e.g. 'wsis-2017-ocp:deadline-reminder:7d'; never a run id")
    process_id: str
    kind: MessageKind
    audience: Audience
    title: str = Field(description="The cycle's title, e.g. 'WSIS Forum 2017'")
    timezone: str = Field(description="Zone in which dates are shown to participants")
    when: datetime | None = Field(
        default=None, description="The deadline or date the email is about"
    )
    previous_when: datetime | None = None
    meeting_key: str | None = None
    meeting: MeetingPlan | None = None
    sequence: int = Field(default=0, description="iCalendar SEQUENCE of the meeting")
    participant_id: int | None = Field(default=None, description="For ONE_PARTICIPANT")
    note: str | None = Field(
        default=None, description="Free text from the secretariat (no personal data)"
    )
    shard: int = 0
    shards: int = 1


class CampaignResult(BaseModel):
    """Counts only: what a campaign did."""

    key: str
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    ambiguous: int = 0


class StepView(BaseModel):
    """A scheduled action of a process, as the status command and the UI show it."""

    key: str
    at: datetime
    summary: str
    phase: str | None = None


class ProcessStatus(BaseModel):
    """What the ``status`` query returns: the phase, what comes next, what was done."""

    process_id: str
    process: str
    phase: str
    phase_name: str
    timezone: str
    upcoming: list[StepView]
    done: list[str]
    skipped: list[str]
    entered: dict[str, datetime] = Field(default_factory=dict, description="phase -> began at")
    waiting_for: str | None = None
    cancelled: str | None = None


class OcpInput(BaseModel):
    """Start an OCP workflow."""

    cycle_id: str
    year: int
    title: str
    ocp: OcpPlan


class ContestInput(BaseModel):
    """Start a prize contest workflow."""

    cycle_id: str
    year: int
    title: str
    contest: ContestPlan


class CycleInput(BaseModel):
    """Start the parent ``AnnualCycle`` workflow."""

    config: CycleConfig


class WindowRequest(BaseModel):
    """Open, move or close an intake window."""

    process_id: str
    kind: str
    title: str
    opens_at: datetime
    closes_at: datetime
    timezone: str
    rules_json: str = "{}"


class WindowResult(BaseModel):
    process_id: str
    kind: str
    state: str
    accepted: int


class Change(BaseModel):
    """A secretariat change to a running process: who asked and why, kept in the history.

    ``requested_by`` is a role or staff id ("secretariat", "jdoe"), never an e-mail address:
    update arguments stay in the workflow history for years.
    """

    requested_by: str
    reason: str

    @field_validator("requested_by")
    @classmethod
    def _no_address(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("say who asks for the change")
        if "@" in v:
            raise ValueError("give a role or staff id, not an e-mail address (history is kept)")
        return v.strip()


class DeadlineChange(Change):
    """Extend (or bring forward) a deadline: ``submissions`` or ``voting`` (its close)."""

    deadline: str = "submissions"
    new: AwareDatetime


class MeetingChange(Change):
    """Move a meeting or change how it is held; unset fields stay as they are."""

    meeting: str
    starts: AwareDatetime | None = None
    ends: AwareDatetime | None = None
    timezone: str | None = None
    venue: str | None = None
    remote_url: str | None = None
    virtual_only: bool | None = None


class CeremonyChange(Change):
    """Move the WSIS Prize Ceremony (with the Forum)."""

    at: AwareDatetime


class Cancellation(Change):
    """Cancel a process; participants are told unless ``notify`` is False."""

    notify: bool = True
