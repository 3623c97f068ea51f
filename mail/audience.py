"""Who a campaign goes to: each audience is one SELECT of participant ids.

The campaign activity runs it inside ``INSERT ... SELECT`` so that even 300,000 recipients
are enqueued by the database in one statement, and no address ever reaches the workflow.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from core.settings import Settings
from models.tables import OcpSubmission, Participant
from models.wire import Audience, CampaignRequest

_p = Participant.__table__  # type: ignore[attr-defined]
_ocp = OcpSubmission.__table__  # type: ignore[attr-defined]

# Audiences of other processes register here (the prize contest adds its own).
EXTRA_AUDIENCES: dict[Audience, Any] = {}


def audience_select(request: CampaignRequest, settings: Settings) -> sa.Select[Any]:
    """The participant ids ``request`` goes to (unsubscribed members excluded from bulk)."""
    subscribed = _p.c.unsubscribed.is_(sa.false())
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
            return sa.select(_p.c.id).where(_p.c.email == settings.secretariat_email)
    if request.audience in EXTRA_AUDIENCES:
        return EXTRA_AUDIENCES[request.audience](request)  # type: ignore[no-any-return]
    raise ValueError(f"unknown audience {request.audience}")
