"""Deferred one-person mail, retried on its own schedule: whether or not a window closes.

An acknowledgement, a vote receipt or an invitation to one person is sent at once by intake;
when the mail server is down or answers 4xx it stays *pending* in the outbox. Every worker runs
``retry_deferred_mail`` beside its Temporal worker: a loop that retries each such campaign with
a growing delay (the first retry within a minute, doubling up to 15 minutes), for up to three
days; then its rows are marked failed ("not delivered within 3 days"), which ``status``
counts. A pass opens one connection and sends every due message over it (a new one only if
it drops), so an outage costs one connection attempt a pass, not one per pending message.

Exactly once holds as everywhere in the outbox: each message is claimed before it is sent (a
conditional update, so two workers' loops, or a loop and a window's flush, never both send
it); a worker killed with ``kill -9`` mid-message leaves one row *sending*, which the next pass
takes over as *ambiguous* once it is ``STALE_AFTER`` old (the one place a duplicate can appear,
as in any pass).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiosmtplib
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.log import get_logger
from core.settings import Settings
from mail.outbox.connect import Unusable, open_connection, tls_context
from mail.outbox.errors import CampaignStopped, DeliveryDeferred
from mail.outbox.rows import mark_completed
from mail.outbox.sender import deliver
from models.tables import Campaign, OutboxMessage, OutboxState
from models.wire import Audience, CampaignRequest

log = get_logger(__name__)
_campaign = Campaign.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]

FIRST_RETRY = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
GIVE_UP_AFTER = timedelta(days=3)
# Intake sends a message itself as it queues it: the loop leaves it that long first.
LEAVE_TO_INTAKE = timedelta(seconds=20)
GIVEN_UP = "not delivered within 3 days (the mail server refused it for now, or was down)"
# How a one-person campaign's stored request names its audience.
_ONE_PERSON = f'"audience":"{Audience.ONE_PARTICIPANT.value}"'


@dataclass(frozen=True)
class Schedule:
    """The retry schedule (tests pass a faster one)."""

    first: timedelta = FIRST_RETRY
    longest: timedelta = LONGEST_WAIT
    give_up_after: timedelta = GIVE_UP_AFTER
    leave_to_intake: timedelta = LEAVE_TO_INTAKE
    tick: float = 5.0  # seconds between looks at the outbox

    def wait(self, tries: int) -> timedelta:
        """The delay after ``tries`` failed passes: first, 2x first, 4x ... up to longest."""
        return min(self.first * (1 << min(tries, 20)), self.longest)


@dataclass
class PassResult:
    """What one pass did (counts only: no personal data)."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    given_up: int = 0
    unreachable: bool = False


@dataclass
class DeferredMail:
    """The retry loop's memory: when each deferred campaign is due again. Only a cache: after
    a restart every deferred campaign is simply due at once."""

    settings: Settings
    engine: Engine
    schedule: Schedule = field(default_factory=Schedule)
    tries: dict[str, int] = field(default_factory=dict)
    due: dict[str, datetime] = field(default_factory=dict)

    async def run_pass(self, now: datetime | None = None) -> PassResult:
        """Give up what is too old, then send every due one-person message still pending."""
        now = now or datetime.now(UTC)
        result = PassResult()
        result.given_up = await asyncio.to_thread(
            give_up_older_than, self.engine, now - self.schedule.give_up_after
        )
        waiting = await asyncio.to_thread(
            deferred_one_person, self.engine, now - self.schedule.leave_to_intake
        )
        due = [r for r in waiting if self.due.get(r.key, now) <= now]
        for key in set(self.due) - {r.key for r in waiting}:
            self.due.pop(key, None)  # sent meanwhile (a flush, intake, another worker)
            self.tries.pop(key, None)
        if not due:
            return result
        smtp = await self._connect()
        if smtp is None:
            result.unreachable = True
            for request in due:
                self._later(request.key, now)
            result.deferred = len(due)
            return result
        one = self.settings.model_copy(update={"smtp_connections": 1})
        try:
            for request in due:  # all over this one connection (a new one only if it drops)
                try:
                    sent = await deliver(
                        request, one, engine=self.engine, connect_patience=2.0, connection=smtp
                    )
                except (DeliveryDeferred, CampaignStopped):
                    self._later(request.key, now)
                    result.deferred += 1
                    continue
                await asyncio.to_thread(mark_completed, request.key, engine=self.engine)
                self.due.pop(request.key, None)
                self.tries.pop(request.key, None)
                result.sent += sent.sent
                result.failed += sent.failed
        finally:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                if smtp.is_connected:
                    await smtp.quit()
        return result

    def _later(self, key: str, now: datetime) -> None:
        tries = self.tries.get(key, 0)
        self.tries[key] = tries + 1
        self.due[key] = now + self.schedule.wait(tries)

    async def _connect(self) -> aiosmtplib.SMTP | None:
        """The pass's one connection; None if the server cannot be reached now."""
        try:
            return await open_connection(self.settings, tls_context(self.settings))
        except (Unusable, aiosmtplib.SMTPException, OSError):
            return None


def deferred_one_person(engine: Engine, created_before: datetime) -> list[CampaignRequest]:
    """One-person campaigns created before ``created_before`` with a message still pending
    (or left *sending* by a sender that died), oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_campaign.c.request_json)
            .where(
                _campaign.c.completed_at.is_(None),
                _campaign.c.created_at < created_before,
                _campaign.c.request_json.contains(_ONE_PERSON),
                sa.exists().where(
                    _outbox.c.campaign_key == _campaign.c.key,
                    _outbox.c.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
                ),
            )
            .order_by(_campaign.c.created_at)
        ).all()
    return [CampaignRequest.model_validate_json(r[0]) for r in rows]


def give_up_older_than(engine: Engine, created_before: datetime) -> int:
    """Mark failed the pending messages of one-person campaigns created before
    ``created_before``; returns how many."""
    old = sa.select(_campaign.c.key).where(
        _campaign.c.completed_at.is_(None),
        _campaign.c.created_at < created_before,
        _campaign.c.request_json.contains(_ONE_PERSON),
    )
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        done = conn.execute(
            _outbox.update()
            .where(
                _outbox.c.campaign_key.in_(old),
                _outbox.c.state == OutboxState.PENDING.value,
            )
            .values(state=OutboxState.FAILED.value, error=GIVEN_UP)
        )
        return int(done.rowcount or 0)


async def retry_deferred_mail(
    settings: Settings,
    engine: Engine,
    stop: asyncio.Event,
    *,
    schedule: Schedule | None = None,
) -> None:
    """Run passes until ``stop`` is set (the worker runs this beside its Temporal worker)."""
    mail = DeferredMail(settings, engine, schedule or Schedule())
    while not stop.is_set():
        try:
            result = await mail.run_pass()
        except Exception as exc:  # the database away for a moment: try again next tick
            log.warning("deferred_mail.pass_failed", error=type(exc).__name__)
        else:
            if result.sent or result.given_up or result.deferred:
                log.info(
                    "deferred_mail.pass",
                    sent=result.sent,
                    deferred=result.deferred,
                    failed=result.failed,
                    given_up=result.given_up,
                    unreachable=result.unreachable,
                )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), mail.schedule.tick)
