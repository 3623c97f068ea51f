"""The email outbox: a row per (campaign, participant), sent over a few reused SMTP connections.

Exactly once, by business key:

* ``enqueue`` writes the campaign row and one outbox row per recipient in one transaction,
  under the unique key (campaign, participant). The audience is frozen at that moment: a retry,
  a Reset from the Web UI or a second shard finds the campaign and adds nobody twice.
* ``deliver`` sends the rows still pending. Before a message goes on the wire its row is
  durably marked ``sending``; after the server's 250 it is marked ``sent`` (committed together
  with the next row's ``sending`` mark, so each connection costs one commit per message). Every
  connection has at most one message in flight, so a crash leaves at most one ``sending`` row per
  connection: the next attempt flags those rows *ambiguous* and sends them again. A duplicate
  can only come from such a row (SMTP cannot be exactly-once, RFC 1047): we prefer a rare
  duplicate to a participant who misses a deadline. Ambiguous rows are counted and reported.
* SMTP 4xx is temporary: the row stays pending and the attempt ends with a retryable error, so
  Temporal retries the activity with backoff and only the pending rows go out again. 5xx for an
  address is permanent: the row is marked failed with the server's reply and sending goes on.
  5xx for the sender or authentication stops the campaign (``CampaignStopped``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.db import get_engine
from core.log import get_logger
from core.settings import Settings
from mail.compose import Recipient, compose
from models.tables import Campaign, OutboxMessage, OutboxState, Participant
from models.wire import CampaignRequest, CampaignResult

log = get_logger(__name__)

PAGE_SIZE = 500
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_participant = Participant.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]


class CampaignStopped(Exception):
    """The SMTP server refused the sender or our credentials: retrying cannot help."""


class DeliveryDeferred(Exception):
    """Some messages got a temporary (4xx) reply or the server was unreachable; retry later."""


def enqueue(request: CampaignRequest, audience: sa.Select[Any], *, engine: Engine) -> bool:
    """Create the campaign and its outbox rows (participant ids from ``audience``) once.

    Returns False when the campaign already existed: its audience is frozen.
    """
    try:
        with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            exists = conn.execute(
                sa.select(_campaign.c.key).where(_campaign.c.key == request.key)
            ).first()
            if exists:
                return False
            conn.execute(
                _campaign.insert().values(
                    key=request.key,
                    process_id=request.process_id,
                    kind=request.kind.value,
                    request_json=request.model_dump_json(),
                    created_at=datetime.now(UTC),
                )
            )
            ids = audience.subquery()
            conn.execute(
                _outbox.insert().from_select(
                    ["campaign_key", "participant_id", "state", "ambiguous", "attempts"],
                    sa.select(
                        sa.literal(request.key),
                        ids.c[0],
                        sa.literal(OutboxState.PENDING.value),
                        sa.false(),
                        sa.literal(0),
                    ),
                )
            )
            return True
    except IntegrityError:
        # Another shard created it at the same moment (PostgreSQL): it is there now.
        return False


def campaign_counts(key: str, *, engine: Engine) -> CampaignResult:
    """What the outbox says of a campaign: recipients, sent, failed, skipped, ambiguous."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_outbox.c.state, _outbox.c.ambiguous, sa.func.count())
            .where(_outbox.c.campaign_key == key)
            .group_by(_outbox.c.state, _outbox.c.ambiguous)
        ).all()
    result = CampaignResult(key=key)
    for state, ambiguous, count in rows:
        result.recipients += count
        if ambiguous:
            result.ambiguous += count
        if state == OutboxState.SENT:
            result.sent += count
        elif state == OutboxState.FAILED:
            result.failed += count
        elif state == OutboxState.SKIPPED:
            result.skipped += count
    return result


class _Ledger:
    """Group commit of outbox state changes: one transaction for all changes queued so far."""

    _STATEMENTS = {
        "sending": "UPDATE outbox SET state='sending', attempts=attempts+1 WHERE id=:id",
        "sent": "UPDATE outbox SET state='sent', message_id=:mid, sent_at=:at, error=NULL "
        "WHERE id=:id",
        "failed": "UPDATE outbox SET state='failed', error=:err WHERE id=:id",
        "deferred": "UPDATE outbox SET state='pending', error=:err WHERE id=:id",
        "ambiguous": "UPDATE outbox SET state='pending', ambiguous=:yes, error=:err WHERE id=:id",
        "skipped": "UPDATE outbox SET state='skipped' WHERE id=:id",
    }

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ops: list[tuple[str, dict[str, Any]]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._error: BaseException | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    def record(self, op: str, **params: Any) -> None:
        """Queue a change; it is committed with the next group."""
        if self._error:
            raise self._error
        self._ops.append((op, params))
        self._wake.set()

    async def durable(self, op: str, **params: Any) -> None:
        """Queue a change and wait until it (and everything before it) is committed."""
        self.record(op, **params)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        await fut

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._task:
            await self._task
        if self._error:
            raise self._error

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            ops, self._ops = self._ops, []
            waiters, self._waiters = self._waiters, []
            if ops:
                try:
                    await asyncio.to_thread(self._apply, ops)
                except BaseException as exc:  # surface to every waiter, then stop
                    self._error = exc
                    for w in waiters:
                        if not w.done():
                            w.set_exception(exc)
                    return
            for w in waiters:
                if not w.done():
                    w.set_result(None)
            if self._closed and not self._ops:
                return

    def _apply(self, ops: list[tuple[str, dict[str, Any]]]) -> None:
        with self._engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            run: list[dict[str, Any]] = []
            kind = None
            for op, params in [*ops, ("", {})]:
                if op != kind and run:
                    conn.execute(sa.text(self._STATEMENTS[kind or ""]), run)
                    run = []
                kind = op
                run.append(params)


class _RateLimiter:
    """At most ``rate`` message starts per second across all connections."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        if not self._interval:
            return
        now = time.monotonic()
        at = max(self._next, now)
        self._next = at + self._interval
        if at > now:
            await asyncio.sleep(at - now)


@dataclass
class _Progress:
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    deferred: int = 0
    ambiguous: int = 0
    last_id: int = 0
    stop: BaseException | None = None
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("stop", "started")}


@dataclass(frozen=True)
class _Row:
    outbox_id: int
    recipient: Recipient
    unsubscribed: bool


def _recover_in_flight(key: str, shard: int, shards: int, engine: Engine) -> int:
    """Rows left ``sending`` by a crashed attempt: their outcome is unknown (ambiguous)."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        where = [_outbox.c.campaign_key == key, _outbox.c.state == OutboxState.SENDING.value]
        if shards > 1:
            where.append(_outbox.c.participant_id % shards == shard)
        result = conn.execute(
            _outbox.update()
            .where(*where)
            .values(state=OutboxState.PENDING.value, ambiguous=True, error="outcome unknown")
        )
        return int(result.rowcount or 0)


def _page(key: str, after: int, shard: int, shards: int, engine: Engine) -> list[_Row]:
    query = (
        sa.select(
            _outbox.c.id,
            _participant.c.id,
            _participant.c.email,
            _participant.c.name,
            _participant.c.language,
            _participant.c.unsubscribe_token,
            _participant.c.unsubscribed,
        )
        .join(_participant, _participant.c.id == _outbox.c.participant_id)
        .where(
            _outbox.c.campaign_key == key,
            _outbox.c.state == OutboxState.PENDING.value,
            _outbox.c.id > after,
        )
        .order_by(_outbox.c.id)
        .limit(PAGE_SIZE)
    )
    if shards > 1:
        query = query.where(_outbox.c.participant_id % shards == shard)
    with engine.connect() as conn:
        return [
            _Row(r[0], Recipient(r[1], r[2], r[3], r[4], r[5]), bool(r[6]))
            for r in conn.execute(query)
        ]


def _smtp(settings: Settings) -> aiosmtplib.SMTP:
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_starttls,
        use_tls=False,
        timeout=settings.smtp_timeout_seconds,
    )


def _first_code(exc: aiosmtplib.SMTPRecipientsRefused) -> tuple[int, str]:
    refusal = exc.recipients[0] if exc.recipients else None
    return (refusal.code, refusal.message) if refusal else (550, str(exc))


async def deliver(
    request: CampaignRequest,
    settings: Settings,
    *,
    engine: Engine | None = None,
    extra: dict[str, Any] | None = None,
    heartbeat: Callable[[dict[str, Any]], None] | None = None,
    connect_patience: float = 20.0,
) -> CampaignResult:
    """Send every pending message of ``request``'s campaign (its shard); see the module doc.

    Raises ``DeliveryDeferred`` when some messages must wait (4xx, server unreachable) and
    ``CampaignStopped`` on a refusal that no retry can fix.
    """
    engine = engine or get_engine()
    key, shard, shards = request.key, request.shard, request.shards
    progress = _Progress()
    progress.ambiguous = await asyncio.to_thread(_recover_in_flight, key, shard, shards, engine)
    if progress.ambiguous:
        log.warning("campaign.recovered_in_flight", campaign=key, ambiguous=progress.ambiguous)

    ledger = _Ledger(engine)
    ledger.start()
    limiter = _RateLimiter(settings.smtp_rate_per_second)
    queue: asyncio.Queue[_Row | None] = asyncio.Queue(maxsize=PAGE_SIZE * 2)
    connections = max(1, settings.smtp_connections)
    unreachable = asyncio.Event()

    async def produce() -> None:
        after = 0
        while not progress.stop and not unreachable.is_set():
            rows = await asyncio.to_thread(_page, key, after, shard, shards, engine)
            if not rows:
                break
            for row in rows:
                await queue.put(row)
            after = rows[-1].outbox_id
        for _ in range(connections):
            await queue.put(None)

    async def connect() -> aiosmtplib.SMTP | None:
        deadline = time.monotonic() + connect_patience
        delay = 0.2
        while True:
            smtp = _smtp(settings)
            try:
                await smtp.connect()
                return smtp
            except aiosmtplib.SMTPAuthenticationError as exc:
                raise CampaignStopped(f"SMTP authentication refused: {exc}") from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                if time.monotonic() + delay > deadline:
                    log.warning("campaign.smtp_unreachable", campaign=key, error=str(exc))
                    return None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def work() -> None:
        smtp: aiosmtplib.SMTP | None = None
        try:
            while (row := await queue.get()) is not None:
                if progress.stop or unreachable.is_set():
                    continue  # drain the queue; the rows stay pending
                if row.unsubscribed:
                    ledger.record("skipped", id=row.outbox_id)
                    progress.skipped += 1
                    continue
                if smtp is None or not smtp.is_connected:
                    smtp = await connect()
                    if smtp is None:
                        unreachable.set()
                        continue
                message = compose(
                    request,
                    row.recipient,
                    sender=settings.mail_from,
                    unsubscribe_url=settings.unsubscribe_url,
                    unsubscribe_mailto=settings.unsubscribe_mailto,
                    extra=extra,
                )
                await limiter.wait()
                # Durable before the wire: at most one message per connection is in doubt.
                await ledger.durable("sending", id=row.outbox_id)
                try:
                    await smtp.send_message(message)
                except aiosmtplib.SMTPRecipientsRefused as exc:
                    code, text = _first_code(exc)
                    _refused(ledger, progress, row, code, text)
                except aiosmtplib.SMTPSenderRefused as exc:
                    ledger.record("deferred", id=row.outbox_id, err=f"{exc.code} {exc.message}")
                    if exc.code >= 500:
                        progress.stop = CampaignStopped(
                            f"SMTP server refused the sender {exc.sender}: {exc.code} {exc.message}"
                        )
                    else:
                        progress.deferred += 1
                except aiosmtplib.SMTPResponseException as exc:
                    if exc.code in (421,):  # service closing: reconnect, message not taken
                        _ambiguous(ledger, progress, row, f"{exc.code} {exc.message}")
                        smtp = None
                    elif exc.code in (530, 535, 554) and "auth" in exc.message.lower():
                        ledger.record("deferred", id=row.outbox_id, err=f"{exc.code} {exc.message}")
                        progress.stop = CampaignStopped(f"SMTP refused: {exc.code} {exc.message}")
                    else:
                        _refused(ledger, progress, row, exc.code, exc.message)
                except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                    # Dropped connection or timeout: the server may or may not have the message.
                    _ambiguous(ledger, progress, row, f"{type(exc).__name__}: {exc}")
                    smtp = None
                else:
                    ledger.record(
                        "sent", id=row.outbox_id, mid=message["Message-ID"], at=datetime.now(UTC)
                    )
                    progress.sent += 1
                progress.last_id = row.outbox_id
        finally:
            if smtp is not None and smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()

    async def beat() -> None:
        while True:
            await asyncio.sleep(1.0)
            if heartbeat:
                heartbeat(progress.as_dict())

    beater = asyncio.create_task(beat())
    try:
        await asyncio.gather(produce(), *(work() for _ in range(connections)))
    finally:
        beater.cancel()
        await ledger.close()
    if heartbeat:
        heartbeat(progress.as_dict())
    elapsed = time.monotonic() - progress.started
    log.info("campaign.pass_done", campaign=key, seconds=round(elapsed, 2), **progress.as_dict())
    if progress.stop:
        raise progress.stop
    if progress.deferred or unreachable.is_set():
        raise DeliveryDeferred(
            f"{progress.deferred} messages deferred by temporary SMTP replies"
            + ("; SMTP server unreachable" if unreachable.is_set() else "")
        )
    result = await asyncio.to_thread(campaign_counts, key, engine=engine)
    return result


def _refused(ledger: _Ledger, progress: _Progress, row: _Row, code: int, text: str) -> None:
    if code >= 500:
        ledger.record("failed", id=row.outbox_id, err=f"{code} {text}")
        progress.failed += 1
    else:
        ledger.record("deferred", id=row.outbox_id, err=f"{code} {text}")
        progress.deferred += 1


def _ambiguous(ledger: _Ledger, progress: _Progress, row: _Row, why: str) -> None:
    ledger.record("ambiguous", id=row.outbox_id, yes=True, err=why)
    progress.ambiguous += 1
    progress.deferred += 1


def mark_completed(key: str, *, engine: Engine) -> None:
    """Stamp the campaign as completed once nothing of it is pending any more."""
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        pending = conn.execute(
            sa.select(sa.func.count())
            .select_from(_outbox)
            .where(
                _outbox.c.campaign_key == key,
                _outbox.c.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
            )
        ).scalar_one()
        if not pending:
            conn.execute(
                _campaign.update()
                .where(_campaign.c.key == key, _campaign.c.completed_at.is_(None))
                .values(completed_at=datetime.now(UTC))
            )


def pending_campaigns(process_id: str, engine: Engine) -> list[CampaignRequest]:
    """The campaigns of ``process_id`` that still have messages to send."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_campaign.c.request_json)
            .where(
                _campaign.c.process_id == process_id,
                sa.exists().where(
                    _outbox.c.campaign_key == _campaign.c.key,
                    _outbox.c.state.in_([OutboxState.PENDING.value, OutboxState.SENDING.value]),
                ),
            )
            .order_by(_campaign.c.created_at)
        ).all()
    return [CampaignRequest.model_validate_json(r[0]) for r in rows]
