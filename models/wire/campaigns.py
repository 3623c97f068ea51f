"""Campaigns: one message kind to one audience, asked for by a workflow, sent by one activity."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from models.plan import MeetingPlan


class MessageKind(StrEnum):
    """One template per kind (``mail/templates/<kind>.j2``), rendered in every language."""

    OCP_OPENING = "ocp_opening"
    MEETING_INVITATION = "meeting_invitation"
    MEETING_REMINDER = "meeting_reminder"
    MEETING_UPDATE = "meeting_update"
    OCP_DEADLINE_REMINDER = "ocp_deadline_reminder"
    OCP_SUBMISSION_ACK = "ocp_submission_ack"
    OCP_ANALYSIS = "ocp_analysis"
    OCP_FINAL_BRIEF = "ocp_final_brief"
    DEADLINE_CHANGED = "deadline_changed"
    FORUM_MOVED = "forum_moved"
    PROCESS_CANCELLED = "process_cancelled"
    PRIZE_OPENING = "prize_opening"
    PRIZE_SUBMISSION_REMINDER = "prize_submission_reminder"
    PRIZE_SUBMISSION_ACK = "prize_submission_ack"
    PRIZE_NOMINATION_OUTCOME = "prize_nomination_outcome"
    PRIZE_INELIGIBLE = "prize_ineligible"
    PRIZE_VOTING_OPEN = "prize_voting_open"
    PRIZE_CHAMPIONS = "prize_champions"
    PRIZE_WINNERS = "prize_winners"
    SECRETARIAT_NOTICE = "secretariat_notice"
    EXPERT_REMINDER = "expert_reminder"
    SIGN_IN_LINK = "signin_link"
    VOTE_RECEIPT = "vote_receipt"


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
    # Phase IV: the experts (staff) with a shortlisted project assigned and neither scored
    # (a submitted sheet) nor recused.
    EXPERTS_UNFINISHED = "experts-unfinished"


# Audiences as large as the community: these are the campaigns worth sharding.
BULK_AUDIENCES = frozenset(
    {Audience.EVERYONE, Audience.OCP_NON_SUBMITTERS, Audience.PROJECT_NON_SUBMITTERS}
)

# What each message kind cannot be written without (beyond key, kind, audience, title).
_NEEDS: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.OCP_OPENING: ("when",),
    MessageKind.MEETING_INVITATION: ("meeting_key", "meeting", "when"),
    MessageKind.MEETING_REMINDER: ("meeting_key", "meeting", "when"),
    MessageKind.MEETING_UPDATE: ("meeting_key", "meeting", "when"),
    MessageKind.OCP_DEADLINE_REMINDER: ("when",),
    MessageKind.DEADLINE_CHANGED: ("when", "previous_when"),
    MessageKind.FORUM_MOVED: ("when", "previous_when"),
    MessageKind.PRIZE_OPENING: ("when",),
    MessageKind.PRIZE_SUBMISSION_REMINDER: ("when",),
    MessageKind.PRIZE_VOTING_OPEN: ("when",),
    MessageKind.SECRETARIAT_NOTICE: ("note",),
    MessageKind.EXPERT_REMINDER: ("when",),
    MessageKind.VOTE_RECEIPT: ("subject_id",),
    MessageKind.PRIZE_INELIGIBLE: ("subject_id", "reason_code"),
}


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
    subject_id: int | None = Field(
        default=None, description="The row a message of one is about (a ballot's receipt)"
    )
    note: str | None = Field(
        default=None, description="Free text from the secretariat (no personal data)"
    )
    # The listed reason a project was found ineligible (models.reasons.INELIGIBLE_REASONS), which
    # the template words in the owner's language; never the secretariat's internal note.
    reason_code: str | None = None
    # A change's public notice per language (never its internal reason): the reader's
    # language, else English, said so (mail/templates/_layout.j2, ``notice``).
    notices: dict[str, str] = Field(default_factory=dict)
    shard: int = 0
    shards: int = 1
    # The title in other languages (the cycle file's ``title = { fr = ... }``): each reader
    # reads theirs, else the English ``title``. Empty in requests made before release 18.
    titles: dict[str, str] = Field(default_factory=dict)

    def in_language(self, language: str) -> CampaignRequest:
        """This request as a reader of ``language`` sees it: ``title`` in their language."""
        title = self.titles.get(language)
        return self.model_copy(update={"title": title}) if title else self

    def missing(self) -> list[str]:
        """The fields this request's kind and audience need but lacks (empty when complete).

        A workflow refuses an incomplete request before scheduling it, and the activity refuses
        it without retrying: no retry can supply a missing deadline.
        """
        needed = list(_NEEDS.get(self.kind, ()))
        if self.audience is Audience.ONE_PARTICIPANT:
            needed.append("participant_id")
        if self.kind is MessageKind.MEETING_UPDATE and self.sequence < 1:
            needed.append("sequence")
        return [name for name in needed if getattr(self, name) in (None, "", 0)]


class CampaignResult(BaseModel):
    """Counts only: what a campaign did."""

    key: str
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    ambiguous: int = 0
