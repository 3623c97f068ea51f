"""Database tables, one module per part of the domain. The database owns the data; workflows
only ever see ids. Every table is importable from here (the migrations do so)."""

from models.tables.accounts import PortalSession, RateCounter, SignInToken
from models.tables.base import UTCDateTime, new_token, utcnow
from models.tables.contests import BallotReceipt, PrizeTally, Project, ProjectStatus, Vote
from models.tables.inbound import (
    BounceKind,
    InboundAnswer,
    InboundMessage,
    InboundState,
    MailBounce,
    MailStanding,
)
from models.tables.ocp import OcpSubmission, SubmissionRevision
from models.tables.outbox import Campaign, OutboxMessage, OutboxState
from models.tables.registry import Participant
from models.tables.staff import AuditEntry, StaffMember, StaffRole, StaffSession
from models.tables.windows import Window, WindowKind, WindowState

__all__ = [
    "AuditEntry",
    "BallotReceipt",
    "BounceKind",
    "Campaign",
    "InboundAnswer",
    "InboundMessage",
    "InboundState",
    "MailBounce",
    "MailStanding",
    "OcpSubmission",
    "OutboxMessage",
    "OutboxState",
    "Participant",
    "PortalSession",
    "PrizeTally",
    "Project",
    "ProjectStatus",
    "RateCounter",
    "SignInToken",
    "StaffMember",
    "StaffRole",
    "StaffSession",
    "SubmissionRevision",
    "UTCDateTime",
    "Vote",
    "Window",
    "WindowKind",
    "WindowState",
    "new_token",
    "utcnow",
]
