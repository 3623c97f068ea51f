"""Phase II: the queue of a contest's projects with the automatic rules' results, and the
secretariat's ineligibility marks (a reason from a fixed, translated list; an internal note
for the audit log only). The console and ``starter.py nominate`` both call ``mark``.

A project's owner is told at once, by e-mail in their own language, with the listed reason
(never the internal note): the message is queued in the outbox in the mark's own transaction
and sent at once; if the mail server cannot take it now, the deferred-mail loop
(``mail.outbox.retry``) sends it later. They hear the outcome again with the nomination
outcome e-mail when the nominated list is frozen."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import Settings
from intake.acks import AckOutcome, send_ack
from intake.prizes import mark_ineligible
from models.reasons import INELIGIBLE_REASONS
from models.tables import Project, Window, WindowKind
from models.text import word_count
from models.wire import CampaignRequest
from services import audit
from services.errors import INVALID, Refused

_j = Project.__table__  # type: ignore[attr-defined]
_w = Window.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Reviewed:
    """A project in the queue and what the automatic rules say of it."""

    id: int
    title: str
    category: str
    organization: str
    status: str
    reason: str | None
    words: int
    words_ok: bool
    category_ok: bool
    past_winner: bool


def contests(engine: Engine) -> list[str]:
    """The contests with a nomination window (newest first)."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(_w.c.process_id)
                .where(_w.c.kind == WindowKind.NOMINATION.value)
                .order_by(_w.c.opens_at.desc())
            ).scalars()
        )


def queue(engine: Engine, process_id: str, *, limit: int = 500) -> list[Reviewed]:
    """The contest's projects, oldest first, with the automatic rules' results."""
    with engine.connect() as conn:
        rules_text = conn.execute(
            sa.select(_w.c.rules_json).where(
                _w.c.process_id == process_id,
                _w.c.kind == WindowKind.PROJECT_SUBMISSIONS.value,
            )
        ).scalar()
        rows = conn.execute(
            sa.select(_j).where(_j.c.process_id == process_id).order_by(_j.c.id).limit(limit)
        ).all()
        winners = set(
            conn.execute(
                sa.select(_j.c.title_key).where(
                    _j.c.process_id != process_id, _j.c.winner.is_(sa.true())
                )
            ).scalars()
        )
    rules = json.loads(rules_text or "{}")
    categories = rules.get("categories") or []
    low, high = rules.get("description_words", [1, 10_000])
    reviewed = []
    for r in rows:
        words = word_count(r.description)
        reviewed.append(
            Reviewed(
                r.id, r.title, r.category, r.organization, r.status, r.reason, words,
                low <= words <= high, not categories or r.category in categories,
                r.title_key in winners,
            )
        )  # fmt: skip
    return reviewed


async def mark(
    engine: Engine,
    settings: Settings,
    process_id: str,
    project_id: int,
    code: str,
    note: str,
    *,
    actor: str,
) -> AckOutcome:
    """Mark a project ineligible (during the nomination phase only, as intake checks), with
    the listed reason its owner reads and an internal note for the audit log; its owner is
    e-mailed at once in their language. What became of that e-mail is returned (sent, or
    queued for the deferred-mail loop, or refused by the mail server)."""
    if code not in INELIGIBLE_REASONS:
        raise Refused(f"{code[:30]!r} is not a listed reason", INVALID)
    note = note.strip()[:500]

    def record() -> CampaignRequest | None:
        request = mark_ineligible(
            process_id, project_id, INELIGIBLE_REASONS[code], engine, reason_code=code
        )
        audit.record(
            engine, actor=actor, action="eligibility.ineligible", target=f"project:{project_id}",
            reason=note, detail={"process": process_id, "reason": code},
        )  # fmt: skip
        return request

    request = await asyncio.to_thread(record)
    assert request is not None  # queued with a reason code
    return await send_ack(request, engine, settings)
