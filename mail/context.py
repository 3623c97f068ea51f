"""Template context that depends on the message kind: figures, project lists, time left.

Computed once per campaign inside the activity (never in the workflow), from the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import Project
from models.wire import CampaignRequest, MessageKind
from reports.ocp import ocp_analysis
from reports.prizes import prize_context
from reports.votes import receipt_context

_project = Project.__table__  # type: ignore[attr-defined]
REMINDER_KINDS = frozenset(
    {
        MessageKind.OCP_DEADLINE_REMINDER,
        MessageKind.PRIZE_SUBMISSION_REMINDER,
        MessageKind.EXPERT_REMINDER,
    }
)
# The end of a reminder's business key: how long before the deadline it is planned
# (workflows.machine.duration_label: 7d, 36h, 90m).
_SPAN = re.compile(r":(\d+)([dhms])$")


def time_left(request: CampaignRequest) -> dict[str, int | None]:
    """``days`` (or, for a span that is not whole days, ``hours``) a reminder's deadline is
    away, for the templates' plurals; both None for other kinds, a span of minutes, or a key
    that names no span (an ad-hoc announcement): the message then gives the deadline only.

    Read from the reminder's business key (``wsis-2017-ocp:deadline-reminder:7d``), the
    span the workflow planned it at: not from the clock, which inside the activity is not
    the workflow's time (a time-skipping test server runs years in seconds), and the same
    for every message of the campaign, which is rendered once per language."""
    found = _SPAN.search(request.key) if request.kind in REMINDER_KINDS else None
    if found is None:
        return {"days": None, "hours": None}
    amount, unit = int(found.group(1)), found.group(2)
    if unit == "d":
        return {"days": amount, "hours": None}
    if unit == "h":
        return {"days": None, "hours": amount}
    # Minutes or seconds: the reminder says the deadline, without a count that would round.
    return {"days": None, "hours": None}


def _analysis(request: CampaignRequest, engine: Engine) -> dict[str, Any]:
    analysis = ocp_analysis(request.process_id, engine)
    return {
        "analysis": {
            "total": analysis.total,
            "by_stakeholder_type": analysis.by_stakeholder_type.rows,
            "by_country": analysis.by_country.rows,
        }
    }


def _ineligible(request: CampaignRequest, engine: Engine) -> dict[str, Any]:
    return {"project_title": project_title(request, engine)}


ContextReader = Callable[[CampaignRequest, Engine], dict[str, Any]]

# The kinds whose templates need more than their request, and what each reads; every other
# kind is written from its request alone (no database read, no thread: most campaigns).
CONTEXT_READERS: dict[MessageKind, ContextReader] = {
    MessageKind.OCP_ANALYSIS: _analysis,
    MessageKind.PRIZE_NOMINATION_OUTCOME: prize_context,
    MessageKind.PRIZE_CHAMPIONS: prize_context,
    MessageKind.PRIZE_WINNERS: prize_context,
    MessageKind.VOTE_RECEIPT: receipt_context,
    MessageKind.PRIZE_INELIGIBLE: _ineligible,
}


def project_title(request: CampaignRequest, engine: Engine) -> str:
    """The title of the project a message of one is about, as its owner typed it."""
    with engine.connect() as conn:
        title = conn.execute(
            sa.select(_project.c.title).where(
                _project.c.id == request.subject_id, _project.c.process_id == request.process_id
            )
        ).scalar()
    return str(title or "")
