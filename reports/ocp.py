"""The analysis of OCP submissions, shared at phase V: counts by stakeholder type and country."""

from __future__ import annotations

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.engine import Engine

from models.tables import OcpSubmission
from reports.tables import Breakdown, breakdown

_s = OcpSubmission.__table__  # type: ignore[attr-defined]


class OcpAnalysis(BaseModel):
    total: int
    by_stakeholder_type: Breakdown
    by_country: Breakdown


def ocp_analysis(process_id: str, engine: Engine) -> OcpAnalysis:
    """Counts and percentages of the official submissions of ``process_id``."""
    with engine.connect() as conn:

        def count_by(column: sa.Column[str]) -> Breakdown:
            rows = conn.execute(
                sa.select(column, sa.func.count())
                .where(_s.c.process_id == process_id, _s.c.withdrawn_at.is_(None))
                .group_by(column)
            ).all()
            return breakdown((str(label), int(n)) for label, n in rows)

        by_type = count_by(_s.c.stakeholder_type)
        by_country = count_by(_s.c.country)
    return OcpAnalysis(total=by_type.total, by_stakeholder_type=by_type, by_country=by_country)
