"""Changes to a running cycle: a deadline, a meeting, the ceremony, the Forum, a cancel.

Each is a Temporal update with a validator: a refused change leaves nothing behind, an
accepted one is in the workflow history with who asked and why (the internal reason, never
mailed); what participants read is the change's public notice.
"""

from __future__ import annotations

import asyncio
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from temporalio.client import Client, WorkflowUpdateFailedError, WorkflowUpdateStage
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
from workflows.process import ProcessWorkflow


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


# How long a change waits for an accepted change to be applied before it says what happens
# next and returns (a change queued behind a running campaign may wait for hours).
APPLIED_WITHIN = 3.0


@dataclass(frozen=True)
class Outcome:
    """What one process made of a change: applied (its new status), accepted and queued
    behind the step under way (``pending``, the process's status naming that step), or
    refused (why; also when the process could not be reached)."""

    workflow_id: str
    status: ProcessStatus | None = None
    pending: ProcessStatus | None = None
    refused: str | None = None

    @property
    def accepted(self) -> bool:
        return self.refused is None


async def submit(
    client: Client, workflow_id: str, update: Any, change: Any, *, within: float = APPLIED_WITHIN
) -> Outcome:
    """Send ``change`` to one process and return as soon as it is accepted (its validator
    passed): applied within ``within`` seconds, or else pending behind the step under way.
    Never waits behind a running campaign (``wait_for_stage=ACCEPTED``)."""
    try:
        handle = await client.get_workflow_handle(workflow_id).start_update(
            update, change, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
    except WorkflowUpdateFailedError as exc:
        return Outcome(workflow_id, refused=f"refused: {refusal(exc)}")
    except RPCError as exc:
        return Outcome(workflow_id, refused=exc.message)
    try:
        status = await asyncio.wait_for(asyncio.shield(handle.result()), within)
    except TimeoutError:
        pending = await client.get_workflow_handle(workflow_id).query(ProcessWorkflow.status)
        return Outcome(workflow_id, pending=pending)
    except WorkflowUpdateFailedError as exc:  # refused once it held the lock
        return Outcome(workflow_id, refused=f"refused: {refusal(exc)}")
    return Outcome(workflow_id, status=status)


async def send(
    targets: list[str] | None,
    update: Any,
    change: Any,
    *,
    cycle: str = "",
    settings: Settings | None = None,
) -> list[Outcome]:
    """Send ``update`` with ``change`` to each process in ``targets`` (every process of
    ``cycle`` when None), one client for all; each refusal is kept, not raised, and each
    accepted change is in the audit log."""
    client = await connect(settings)
    engine = ready_engine(settings.database_url if settings else None)
    wids = targets
    if wids is None:
        wids = await client.get_workflow_handle(ids.cycle_id(cycle)).query(
            AnnualCycleWorkflow.processes
        )
    done: list[Outcome] = []
    for wid in wids:
        outcome = await submit(client, wid, update, change)
        if outcome.accepted:
            _audited(engine, update, wid, change)
        done.append(outcome)
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
