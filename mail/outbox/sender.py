"""Sending a campaign's pending rows: ``deliver``, one pass over the outbox.

A pass runs its connections and its heartbeat in one ``asyncio.TaskGroup``: it ends when every
connection has run out of rows or was told to halt, and nothing in it can wait for a task that
is gone. The connections pull rows from ``Pages`` (no producer to lose), commit through the
``Ledger`` (whose commits settle even if the task that led them is cancelled), and a failure is
handled where it happens:

* one message (its address, its composition, an unexpected error during its SMTP exchange):
  that row is failed with the reason, the others go on;
* the pass (a refusal no retry fixes, the server unreachable, the outbox database, the
  heartbeat): a flag that every connection checks before its next message, so a message on
  the wire is finished and recorded rather than cut off;
* cancellation: every connection gives its row back (pending; ambiguous if its content was
  on the wire) and the ledger commits that before the pass returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import aiosmtplib
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from core.db import get_engine
from core.log import get_logger
from core.redact import redact_addresses
from core.settings import Settings
from mail.compose import Composer
from mail.context import CONTEXT_READERS
from mail.outbox.connect import Unusable, open_connection, tls_context
from mail.outbox.errors import CampaignStopped, DeliveryDeferred, DeliveryInterrupted
from mail.outbox.exchange import Exchange, Progress
from mail.outbox.ledger import Ledger, LedgerError
from mail.outbox.pages import Pages
from mail.outbox.rows import (
    PAGE_SIZE,
    STALE_AFTER,
    Row,
    campaign_token,
    read_page,
    recover_in_flight,
    state_counts,
)
from mail.outbox.smtp import RateLimiter
from models.wire import CampaignRequest, CampaignResult

log = get_logger(__name__)

Heartbeat = Callable[[dict[str, Any]], None]


async def deliver(
    request: CampaignRequest,
    settings: Settings,
    *,
    engine: Engine | None = None,
    extra: dict[str, Any] | None = None,
    heartbeat: Heartbeat | None = None,
    connect_patience: float = 20.0,
    recover_after: timedelta = STALE_AFTER,
    heartbeat_every: float = 1.0,
    connection: aiosmtplib.SMTP | None = None,
) -> CampaignResult:
    """Send every pending message of ``request``'s campaign (its shard); see the package doc.

    ``connection``: an open SMTP connection to use first and leave open (the retry loop sends
    many one-person campaigns over one); a fresh one is opened if it drops.

    ``recover_after``: rows left ``sending`` longer than this are taken over as ambiguous. The
    campaign activity passes 0: when Temporal starts an attempt the previous one is over.
    Raises ``CampaignStopped`` on a refusal that no retry can fix, ``DeliveryDeferred`` when
    some messages must wait (4xx, server unreachable) and its subclass ``DeliveryInterrupted``
    when the pass was cut short by the database or the heartbeat. Returns the shard's counts.
    """
    engine = engine or get_engine()
    async with _pass_slots(engine):
        key, shard, shards = request.key, request.shard, request.shards
        progress = Progress()
        progress.ambiguous = await asyncio.to_thread(
            recover_in_flight, key, shard, shards, engine, recover_after
        )
        if progress.ambiguous:
            log.warning("campaign.recovered_in_flight", campaign=key, ambiguous=progress.ambiguous)
        token = await asyncio.to_thread(campaign_token, key, engine)
        if extra is None and (read := CONTEXT_READERS.get(request.kind)) is not None:
            extra = await asyncio.to_thread(read, request, engine)  # figures, shortlists…
        composer = Composer.for_settings(request, settings, extra)
        delivery = _Pass(request, settings, engine, composer, token, progress)
        delivery.shared = connection
        await delivery.run(heartbeat, heartbeat_every, connect_patience)
        return await delivery.outcome()


# Passes running at once, per engine and event loop (see ``_pass_slots``).
_SLOTS: dict[tuple[int, int], asyncio.Semaphore] = {}


def _pass_slots(engine: Engine) -> asyncio.Semaphore:
    """How many passes may run at once on ``engine``: each holds one connection for its
    ledger and takes another for its reads, so more passes than half the pool could each
    hold one and wait for a second forever (and the threads they wait in are the ones the
    others need). Forty receipts sent at once from the portal did exactly that."""
    loop = asyncio.get_running_loop()
    key = (id(engine), id(loop))
    slots = _SLOTS.get(key)
    if slots is None:
        pool = engine.pool
        capacity = 16  # a pool without a fixed size (NullPool, StaticPool): a fair number
        if isinstance(pool, QueuePool):
            capacity = pool.size() + max(0, pool._max_overflow)
        slots = _SLOTS[key] = asyncio.Semaphore(max(1, capacity // 2))
    return slots


class _Pass:
    """One pass of one campaign (shard) over its pending rows."""

    def __init__(
        self,
        request: CampaignRequest,
        settings: Settings,
        engine: Engine,
        composer: Composer,
        token: str,
        progress: Progress,
    ) -> None:
        self.request = request
        self.settings = settings
        self.engine = engine
        self.composer = composer
        self.token = token
        self.progress = progress
        self.ledger = Ledger(engine)
        self.tls = tls_context(settings)
        limiter = RateLimiter(settings.smtp_rate_per_second)
        self.exchange = Exchange(
            request.key,
            composer,
            token,
            self.ledger,
            limiter,
            progress,
            self._stop,
            smtputf8=settings.smtp_utf8,
        )
        key, shard, shards = request.key, request.shard, request.shards
        self.pages = Pages(lambda after: read_page(key, after, shard, shards, engine), PAGE_SIZE)
        self.started = time.monotonic()
        self.heartbeat: Heartbeat | None = None
        self.connect_patience = 20.0
        # Why the pass halts before its rows run out (checked before every message).
        self.stopped: CampaignStopped | None = None
        self.interrupted: DeliveryInterrupted | None = None
        self.unreachable = False
        self.shared: aiosmtplib.SMTP | None = None  # a caller's connection, left open

    @property
    def halted(self) -> bool:
        return bool(self.stopped or self.interrupted or self.unreachable or self.ledger.failure)

    # -- The pass ------------------------------------------------------------------------------

    async def run(
        self, heartbeat: Heartbeat | None, heartbeat_every: float, connect_patience: float
    ) -> None:
        """Send until the rows run out or the pass halts; the ledger is closed on every path."""
        self.heartbeat, self.connect_patience = heartbeat, connect_patience
        try:
            async with asyncio.TaskGroup() as tasks:
                connections = [
                    tasks.create_task(self._connection())
                    for _ in range(max(1, self.settings.smtp_connections))
                ]
                tasks.create_task(self._heartbeats(connections, heartbeat_every))
        except* Exception as failed:  # a bug: every expected failure is handled where it occurs
            self._interrupt("sending", failed.exceptions[0])
        finally:
            self.pages.close()
            with contextlib.suppress(LedgerError):  # ledger.failure says it
                await self.ledger.close()
        self._report()

    async def outcome(self) -> CampaignResult:
        """The shard's counts, or the error that says why some rows are still to send."""
        progress = self.progress
        log.info(
            "campaign.pass_done",
            campaign=self.request.key,
            shard=self.request.shard,
            seconds=round(time.monotonic() - self.started, 2),
            commits=self.ledger.commits,
            **progress.details(),
        )
        if self.stopped:
            raise self.stopped
        if self.ledger.failure and not self.interrupted:
            self._interrupt("writing the outbox", self.ledger.failure)
        if self.interrupted:
            raise self.interrupted
        key, shard, shards = self.request.key, self.request.shard, self.request.shards
        result, pending, sending = await asyncio.to_thread(
            state_counts, key, self.engine, shard, shards
        )
        if pending or sending:
            reasons = []
            if progress.deferred:
                reasons.append(
                    f"{progress.deferred} deferred by temporary SMTP replies or connections lost"
                )
            if self.unreachable:
                reasons.append("the SMTP server is unreachable")
            if sending:
                reasons.append(f"{sending} in flight with another sender")
            raise DeliveryDeferred(  # counts and our own words only: nothing to redact
                f"campaign {key}: {pending + sending} messages still to send"
                + (f" ({'; '.join(reasons)})" if reasons else "")
            )
        return result

    def _stop(self, reason: str) -> None:
        """A refusal no retry can fix: halt, and say so. The message goes to the workflow's
        history: any address in the reason (a server's reply may quote it) is redacted."""
        if self.stopped is None:
            self.stopped = CampaignStopped(
                f"campaign {self.request.key} stopped: {redact_addresses(reason)}; a retry "
                f"cannot fix this. {self.progress.sent} messages were sent in this attempt; "
                "the others stay pending and go out when the campaign runs again after the "
                "cause (credentials, TLS, sender address, relay or content policy) is fixed."
            )

    def _interrupt(self, what: str, error: BaseException) -> None:
        """An error of ours, not of one message: halt; the next attempt goes on."""
        if self.interrupted is None:
            self.interrupted = DeliveryInterrupted(
                f"campaign {self.request.key}: the attempt was interrupted by an error while "
                f"{what} ({type(error).__name__}: {redact_addresses(str(error))}). "
                f"{self.progress.sent} messages were sent in this attempt; the others stay "
                "pending for the next attempt."
            )
            log.warning(
                "campaign.interrupted",
                campaign=self.request.key,
                during=what,
                error=type(error).__name__,
            )

    # -- Heartbeat -----------------------------------------------------------------------------

    async def _heartbeats(self, connections: list[asyncio.Task[None]], every: float) -> None:
        """While the connections send: commit what waits (the marks of connections waiting
        for a connection or the rate limit become durable at least this often), then report."""
        sending = set(connections)
        while sending:
            _, sending = await asyncio.wait(sending, timeout=every)
            if not sending:
                return
            with contextlib.suppress(LedgerError):  # the connections see it and halt
                await self.ledger.commit()
            if not self._report():
                return

    def _report(self) -> bool:
        """Heartbeat the counts; False (and the pass halts) if the heartbeat failed."""
        if self.heartbeat is None:
            return True
        try:
            self.heartbeat(self.progress.details())
        except Exception as exc:
            self._interrupt("reporting progress (heartbeat)", exc)
            return False
        return True

    # -- A connection --------------------------------------------------------------------------

    async def _connection(self) -> None:
        """One SMTP connection: takes rows until none is left or the pass halts."""
        smtp: aiosmtplib.SMTP | None = None
        try:
            while (row := await self._next_row()) is not None:
                if row.bulk_excluded and self.composer.bulk:
                    self.ledger.record("skipped", row.outbox_id)
                    self.progress.skipped += 1
                    continue
                if smtp is None or not smtp.is_connected:
                    smtp = await self._connect()
                    if smtp is None:
                        return
                if not await self.exchange.send(smtp, row):
                    smtp.close()
                    smtp = None
                self.progress.last_id = max(self.progress.last_id, row.outbox_id)
        except LedgerError:
            pass  # no claim is granted any more: the pass halts (ledger.failure)
        except BaseException:
            if smtp is not None:
                smtp.close()  # cancelled, or a bug: the server sees the connection drop
            raise
        if smtp is not None and smtp is not self.shared:
            await _quit(smtp)

    async def _next_row(self) -> Row | None:
        _honour_cancellation()
        if self.halted:
            return None  # the rows not taken stay pending
        try:
            return await self.pages.next()
        except Exception as exc:
            self._interrupt("reading the outbox", exc)
            return None

    async def _connect(self) -> aiosmtplib.SMTP | None:
        """A connection, retried for ``connect_patience`` seconds; None if the pass halts."""
        if self.shared is not None and self.shared.is_connected:
            return self.shared
        deadline = time.monotonic() + self.connect_patience
        delay = 0.2
        while not self.halted:
            try:
                return await open_connection(self.settings, self.tls)
            except Unusable as exc:
                self._stop(str(exc))
                return None
            except (aiosmtplib.SMTPException, OSError) as exc:
                error = exc
            if time.monotonic() + delay > deadline:
                log.warning(
                    "campaign.smtp_unreachable",
                    campaign=self.request.key,
                    error=redact_addresses(str(error)),
                )
                self.unreachable = True
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        return None


def _honour_cancellation() -> None:
    """Raise ``CancelledError`` if this task was asked to stop. A library can swallow a
    cancellation (Python 3.11's ``wait_for`` returns the result when the inner call finishes
    as it is cancelled); a connection that went on would keep its task group waiting."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    """Say goodbye, briefly; a server that does not answer is just disconnected."""
    try:
        async with asyncio.timeout(5):
            await smtp.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        smtp.close()
    except BaseException:
        smtp.close()
        raise
