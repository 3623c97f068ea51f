"""Template context that depends on the message kind: figures, project lists, notices.

Computed once per campaign inside the activity (never in the workflow), from the database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from core.settings import Settings
from models.wire import CampaignRequest, MessageKind
from reports.ocp import ocp_analysis
from reports.prizes import PRIZE_KINDS, prize_context
from reports.votes import receipt_context


def campaign_context(
    request: CampaignRequest, engine: Engine, settings: Settings
) -> dict[str, Any]:
    """Extra template variables for ``request``'s kind."""
    if request.kind is MessageKind.OCP_ANALYSIS:
        analysis = ocp_analysis(request.process_id, engine)
        return {
            "analysis": {
                "total": analysis.total,
                "by_stakeholder_type": analysis.by_stakeholder_type.rows,
                "by_country": analysis.by_country.rows,
            }
        }
    if request.kind in PRIZE_KINDS:
        return prize_context(request, engine)
    if request.kind is MessageKind.VOTE_RECEIPT:
        return receipt_context(request, engine)
    return {}
