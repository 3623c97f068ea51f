"""What crosses the Temporal wire: small, plain pydantic models of ids, dates and counts.

Nothing here may carry a participant's name or e-mail address: workflow history is read by
operators in the Web UI and kept for years. Nothing here validates either, beyond types: a
workflow decodes these again at every replay, so a rule tightened by a later release must not
be able to refuse what an earlier one accepted. The checks run at the edges (``problems()``
methods, called by the CLI and by the workflows' update validators). A date a change sets is
an ``AwareInstant``: its UTC offset is part of its type (no change was ever accepted without one).
"""

from models.wire.campaigns import (
    BULK_AUDIENCES,
    Audience,
    CampaignRequest,
    CampaignResult,
    MessageKind,
)
from models.wire.changes import (
    AwareInstant,
    Cancellation,
    CeremonyChange,
    Change,
    Checkable,
    DeadlineChange,
    ForumMove,
    ForumShift,
    MeetingChange,
    SelectionChange,
    WinnerSelection,
)
from models.wire.contests import (
    EligibilityResult,
    NominationResult,
    Shortlist,
    TallyRequest,
    WinnerRequest,
)
from models.wire.processes import (
    ContestInput,
    CycleInput,
    OcpInput,
    ProcessChanged,
    ProcessRef,
    ProcessStatus,
    StepView,
    WindowRequest,
    WindowResult,
)

__all__ = [
    "BULK_AUDIENCES",
    "Audience",
    "AwareInstant",
    "CampaignRequest",
    "CampaignResult",
    "Cancellation",
    "CeremonyChange",
    "Change",
    "Checkable",
    "ContestInput",
    "CycleInput",
    "DeadlineChange",
    "EligibilityResult",
    "ForumMove",
    "ForumShift",
    "MeetingChange",
    "MessageKind",
    "NominationResult",
    "OcpInput",
    "ProcessChanged",
    "ProcessRef",
    "ProcessStatus",
    "SelectionChange",
    "Shortlist",
    "StepView",
    "TallyRequest",
    "WindowRequest",
    "WindowResult",
    "WinnerRequest",
    "WinnerSelection",
]
