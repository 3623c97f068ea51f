"""Who a campaign goes to: each audience is one SELECT of participant ids.

The campaign activity runs it inside ``INSERT ... SELECT`` so that even 300,000 recipients
are enqueued by the database in one statement, and no address ever reaches the workflow.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.settings import Settings
from mail.inbound.standing import suspended_ids
from models.tables import (
    ExpertAssignment,
    OcpSubmission,
    Participant,
    Project,
    ProjectStatus,
    ScoreSheet,
    StaffMember,
    StaffRole,
)
from models.text import normalize_address
from models.wire import Audience, CampaignRequest
from reports.status import not_secretariat

_p = Participant.__table__  # type: ignore[attr-defined]
_ocp = OcpSubmission.__table__  # type: ignore[attr-defined]
_proj = Project.__table__  # type: ignore[attr-defined]
_staff = StaffMember.__table__  # type: ignore[attr-defined]
_assigned = ExpertAssignment.__table__  # type: ignore[attr-defined]
_sheet = ScoreSheet.__table__  # type: ignore[attr-defined]
_EXPERT_ROLES = (StaffRole.EXPERT.value, StaffRole.EXPERT_LEAD.value)


def _owners(process_id: str, *where: Any) -> sa.Select[Any]:
    return sa.select(_proj.c.owner_id).where(_proj.c.process_id == process_id, *where).distinct()


def _experts_unfinished(process_id: str) -> sa.Select[Any]:
    """The experts (current accounts) who still have a shortlisted project of ``process_id``
    within their assignments that they have neither scored (a submitted sheet) nor recused
    from: a draft is not finished. Their work is a duty, so subscription plays no part."""
    finished = sa.exists().where(
        _sheet.c.staff_id == _staff.c.id,
        _sheet.c.project_id == _proj.c.id,
        sa.or_(_sheet.c.recused.is_(sa.true()), _sheet.c.submitted_at.is_not(None)),
    )
    return (
        sa.select(_staff.c.participant_id)
        .join(_assigned, _assigned.c.staff_id == _staff.c.id)
        .join(
            _proj,
            sa.and_(
                _proj.c.process_id == _assigned.c.process_id,
                _proj.c.shortlisted.is_(sa.true()),
                sa.or_(_assigned.c.category == "", _proj.c.category == _assigned.c.category),
            ),
        )
        .where(
            _assigned.c.process_id == process_id,
            _staff.c.removed_at.is_(None),
            _staff.c.role.in_(_EXPERT_ROLES),
            ~finished,
        )
        .distinct()
    )


def audience_select(request: CampaignRequest, settings: Settings) -> sa.Select[Any]:
    """The participant ids ``request`` goes to (unsubscribed members excluded from bulk)."""
    # Bulk mail goes to subscribed participants: never to a sign-up nobody confirmed yet, to
    # an address suspended for bounces (mail.inbound.standing), or to the secretariat's own
    # row (it receives its notices, never a bulk announcement).
    subscribed = (
        _p.c.unsubscribed.is_(sa.false())
        & _p.c.pending.is_(sa.false())
        & _p.c.id.not_in(suspended_ids())
        & not_secretariat(settings.secretariat_email)
    )
    match request.audience:
        case Audience.EVERYONE:
            return sa.select(_p.c.id).where(subscribed)
        case Audience.OCP_NON_SUBMITTERS:
            submitted = sa.select(_ocp.c.participant_id).where(
                _ocp.c.process_id == request.process_id
            )
            return sa.select(_p.c.id).where(subscribed, _p.c.id.not_in(submitted))
        case Audience.ONE_PARTICIPANT:
            if request.participant_id is None:
                raise ValueError("a one-participant campaign needs participant_id")
            return sa.select(_p.c.id).where(_p.c.id == request.participant_id)
        case Audience.SECRETARIAT:
            return sa.select(_p.c.id).where(
                _p.c.email == normalize_address(settings.secretariat_email).lower()
            )
        case Audience.PROJECT_NON_SUBMITTERS:
            owners = _owners(request.process_id)
            return sa.select(_p.c.id).where(subscribed, _p.c.id.not_in(owners))
        # Owners are told about their own projects whether or not they take bulk mail.
        case Audience.NOMINATED_OWNERS:
            return _owners(request.process_id, _proj.c.status == ProjectStatus.NOMINATED.value)
        case Audience.NOT_NOMINATED_OWNERS:
            nominated = _owners(request.process_id, _proj.c.status == ProjectStatus.NOMINATED.value)
            return _owners(request.process_id).where(_proj.c.owner_id.not_in(nominated))
        case Audience.SHORTLISTED_OWNERS:
            return _owners(request.process_id, _proj.c.shortlisted.is_(sa.true()))
        case Audience.WINNER_OWNERS:
            return _owners(request.process_id, _proj.c.winner.is_(sa.true()))
        case Audience.EXPERTS_UNFINISHED:
            return _experts_unfinished(request.process_id)
    raise ValueError(f"unknown audience {request.audience}")
