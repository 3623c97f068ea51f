"""Changes to a running cycle: a deadline, a meeting, the ceremony, the Forum, a cancel.

Each is a Temporal update with a validator: a refused change leaves nothing behind, an
accepted one is in the workflow history with who asked and why (the internal reason, never
mailed); what participants read is the change's public notice.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from core.settings import Settings
from models import ids
from models.moves import forum_moved
from models.wire import ForumMove, ProcessStatus
from models.wire.changes import NOTICE_LANGUAGES, notice_problems
from services import audit
from services.database import ready_engine
from services.errors import INVALID, Refused
from services.temporal import connect
from workflows.cycle import AnnualCycleWorkflow


def refusal(exc: Exception) -> str:
    """A validator's own words, without the exception types wrapped around them."""
    cause = getattr(exc, "cause", None)
    return str(getattr(cause, "message", None) or cause or exc)


def _audited(engine: Engine, update: Any, target: str, change: Any) -> None:
    """The accepted change in the audit log, with the same who and why as its update."""
    name = getattr(update, "__name__", str(update))
    detail = change.model_dump(mode="json", exclude={"requested_by", "reason", "moved"})
    audit.record(
        engine,
        actor=change.requested_by,
        action=f"change.{name}",
        target=target,
        reason=change.reason,
        detail=detail,
    )


@dataclass(frozen=True)
class Outcome:
    """What one process made of a change: its new status, or why it refused."""

    workflow_id: str
    status: ProcessStatus | None = None
    refused: str | None = None


async def send(
    targets: list[str] | None,
    update: Any,
    change: Any,
    *,
    cycle: str = "",
    settings: Settings | None = None,
) -> list[Outcome]:
    """Send ``update`` with ``change`` to each process in ``targets`` (every process of
    ``cycle`` when None), one client for all; each refusal is kept, not raised."""
    client = await connect(settings)
    engine = ready_engine(settings.database_url if settings else None)
    wids = targets
    if wids is None:
        wids = await client.get_workflow_handle(ids.cycle_id(cycle)).query(
            AnnualCycleWorkflow.processes
        )
    done: list[Outcome] = []
    for wid in wids:
        try:
            status = await client.get_workflow_handle(wid).execute_update(update, change)
            done.append(Outcome(wid, status=status))
            _audited(engine, update, wid, change)
        except WorkflowUpdateFailedError as exc:
            done.append(Outcome(wid, refused=f"refused: {refusal(exc)}"))
        except RPCError as exc:
            done.append(Outcome(wid, refused=exc.message))
    return done


async def move_forum(cycle: str, move: ForumMove, settings: Settings | None = None) -> list[str]:
    """Move the Forum of ``cycle``: the whole cycle's new plan is computed here (the
    time-zone database keeps local times) and checked again by the cycle's validator.
    Returns the processes told; ``Refused`` with the validator's words."""
    cycle_id = ids.cycle_id(cycle)
    try:
        handle = (await connect(settings)).get_workflow_handle(cycle_id)
        plan = await handle.query(AnnualCycleWorkflow.plan)
        moved = forum_moved(plan, move.starts, move.ends, datetime.now(UTC))
        told: dict[str, str] = await handle.execute_update(
            AnnualCycleWorkflow.move_forum, move.model_copy(update={"moved": moved})
        )
    except WorkflowUpdateFailedError as exc:
        raise Refused(f"{cycle_id}: refused: {refusal(exc)}") from None
    except RPCError as exc:
        raise Refused(f"{cycle_id}: {exc.message}") from None
    engine = ready_engine(settings.database_url if settings else None)
    _audited(engine, AnnualCycleWorkflow.move_forum, cycle_id, move)
    return list(told)


def notices(pairs: list[str] | None, file: Path | None = None) -> dict[str, str]:
    """A public notice from ``LANG=TEXT`` pairs and/or a TOML file of ``LANG = "TEXT"``
    lines (a pair overrides the file); ``Refused`` (invalid input) on a malformed one.
    The rules for the texts are the change's own (``models.wire.changes.notice_problems``)."""
    found: dict[str, str] = {}
    if file is not None:
        try:
            with file.open("rb") as fh:
                table = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise Refused(f"--notice-file: {file.name}: {exc}", INVALID) from None
        for lang, text in table.items():
            if not isinstance(text, str):
                raise Refused(f"--notice-file: {lang[:10]!r} is not a text", INVALID)
            found[lang] = text
    for pair in pairs or []:
        lang, sep, text = pair.partition("=")
        if not sep:
            raise Refused(f"--notice: {pair[:20]!r} is not LANG=TEXT (e.g. fr=…)", INVALID)
        found[lang.strip()] = text
    if problems := notice_problems(found):
        raise Refused("; ".join(problems), INVALID)
    return found


def fallback_languages(notice: dict[str, str]) -> list[str]:
    """The languages that read a notice in English (they have none of their own)."""
    return [lang for lang in NOTICE_LANGUAGES if notice and lang not in notice]


async def apply(prepared: Any, settings: Settings | None = None) -> list[Outcome]:
    """Send a ``services.prepared.Prepared`` change (the console's confirmed form)."""
    if prepared.kind == "forum":
        try:
            told = await move_forum(prepared.cycle, prepared.change, settings)
        except Refused as exc:
            return [Outcome(ids.cycle_id(prepared.cycle), refused=exc.message)]
        return [Outcome(wid) for wid in told] or [Outcome(ids.cycle_id(prepared.cycle))]
    return await send(
        prepared.targets, prepared.update, prepared.change, cycle=prepared.cycle, settings=settings
    )
