"""The cycle at a glance: which cycles exist, and each process's messages by state."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio.service import RPCError

from core.settings import Settings
from models.tables import OutboxMessage
from services.temporal import connect

_out = OutboxMessage.__table__  # type: ignore[attr-defined]


async def cycles(settings: Settings | None = None) -> list[str]:
    """The cycles Temporal knows, newest first (running or finished)."""
    client = await connect(settings)
    found: list[str] = []
    try:
        async for wf in client.list_workflows("WsisProcess = 'cycle'"):
            if wf.id not in found:
                found.append(wf.id)
    except RPCError:
        return found
    return found


def messages(engine: Engine, process_id: str) -> dict[str, int]:
    """The process's e-mails by state: sent, deferred (pending or being sent), failed."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_out.c.state, sa.func.count())
            .where(_out.c.campaign_key.startswith(f"{process_id}:"))
            .group_by(_out.c.state)
        ).all()
    by = {str(state): int(n) for state, n in rows}
    return {
        "sent": by.get("sent", 0),
        "deferred": by.get("pending", 0) + by.get("sending", 0),
        "failed": by.get("failed", 0),
    }
