"""Sending a campaign's pending rows: ``deliver``."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
from sqlalchemy.engine import Engine

from core.db import get_engine
from core.log import get_logger
from core.settings import Settings
from mail.compose import Composer
from mail.outbox.errors import CampaignStopped, DeliveryDeferred
from mail.outbox.ledger import Ledger
from mail.outbox.rows import (
    PAGE_SIZE,
    STALE_AFTER,
    Row,
    campaign_token,
    read_page,
    recover_in_flight,
    state_counts,
)
from mail.outbox.smtp import RateLimiter, Refused, client, is_policy
from models.wire import CampaignRequest, CampaignResult

log = get_logger(__name__)

# A row refused temporarily (4xx) or lost during DATA this many times is given up as failed.
MAX_ATTEMPTS = 10
# What may stand in an SMTP MAIL/RCPT command: no space, control character or angle bracket.
_SAFE_ADDRESS = re.compile(r"[^\s<>\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+")


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


async def deliver(
    request: CampaignRequest,
    settings: Settings,
    *,
    engine: Engine | None = None,
    extra: dict[str, Any] | None = None,
    heartbeat: Callable[[dict[str, Any]], None] | None = None,
    connect_patience: float = 20.0,
    recover_after: timedelta = STALE_AFTER,
    heartbeat_every: float = 1.0,
) -> CampaignResult:
    """Send every pending message of ``request``'s campaign (its shard); see the module doc.

    ``recover_after``: rows left ``sending`` longer than this are taken over as ambiguous. The
    campaign activity passes 0: when Temporal starts an attempt the previous one is over.
    Raises ``DeliveryDeferred`` when some messages must wait (4xx, server unreachable) and
    ``CampaignStopped`` on a refusal that no retry can fix. Returns the counts of the shard.
    """
    engine = engine or get_engine()
    key, shard, shards = request.key, request.shard, request.shards
    progress = _Progress()
    progress.ambiguous = await asyncio.to_thread(
        recover_in_flight, key, shard, shards, engine, recover_after
    )
    if progress.ambiguous:
        log.warning("campaign.recovered_in_flight", campaign=key, ambiguous=progress.ambiguous)
    token = await asyncio.to_thread(campaign_token, key, engine)
    composer = Composer(
        request,
        sender=settings.mail_from,
        unsubscribe_url=settings.unsubscribe_url,
        unsubscribe_mailto=settings.unsubscribe_mailto,
        extra=extra,
    )
    sender = composer.sender_address.encode("utf-8")
    domain = composer.domain

    ledger = Ledger(engine)
    limiter = RateLimiter(settings.smtp_rate_per_second)
    queue: asyncio.Queue[Row | None] = asyncio.Queue(maxsize=PAGE_SIZE * 2)
    connections = max(1, settings.smtp_connections)
    unreachable = asyncio.Event()

    async def produce() -> None:
        after = 0
        while not progress.stop and not unreachable.is_set():
            rows = await asyncio.to_thread(read_page, key, after, shard, shards, engine)
            if not rows:
                break
            for row in rows:
                await queue.put(row)
            after = rows[-1].outbox_id
        for _ in range(connections):
            await queue.put(None)

    def stop(stage: str, code: int, text: str) -> None:
        if progress.stop is None:
            progress.stop = CampaignStopped(
                f"campaign {key} stopped: the SMTP server refused {stage} ({code} {text}); "
                f"a retry cannot fix this. {progress.sent} messages were sent in this attempt; "
                "the others stay pending and go out when the campaign runs again after the "
                "cause (credentials, sender address, relay or content policy) is fixed."
            )

    async def connect() -> aiosmtplib.SMTP | None:
        deadline = time.monotonic() + connect_patience
        delay = 0.2
        while True:
            smtp = client(settings)
            try:
                await smtp.connect()
                if smtp.last_ehlo_response is None:
                    try:
                        await smtp.ehlo()
                    except aiosmtplib.SMTPHeloError as exc:
                        if exc.code not in (500, 502):
                            raise
                        await smtp.helo()  # a server without ESMTP
                return smtp
            except aiosmtplib.SMTPAuthenticationError as exc:
                stop("our credentials", exc.code, exc.message)
                return None
            except aiosmtplib.SMTPResponseException as exc:  # greeting or EHLO refused
                smtp.close()
                if exc.code >= 500:
                    stop("the connection", exc.code, exc.message)
                    return None
                error: Exception = exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                smtp.close()
                error = exc
            if time.monotonic() + delay > deadline:
                log.warning("campaign.smtp_unreachable", campaign=key, error=str(error))
                unreachable.set()
                return None
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def transaction(smtp: aiosmtplib.SMTP, row: Row) -> bool:
        """Send one message; False when the connection must be dropped."""
        address = row.recipient.email
        if not _SAFE_ADDRESS.fullmatch(address):
            ledger.record("failed", "invalid address", row.outbox_id)
            progress.failed += 1
            return True
        options: list[bytes] = []
        if not address.isascii():
            if not smtp.supports_extension("smtputf8"):
                ledger.record(
                    "failed", "non-ASCII address and the server lacks SMTPUTF8", row.outbox_id
                )
                progress.failed += 1
                return True
            options.append(b"SMTPUTF8")
        message_id = f"<{token}.{row.recipient.participant_id}@{domain}>"
        data = composer.message_bytes(row.recipient, message_id=message_id)
        if smtp.supports_extension("size"):
            options.append(b"SIZE=%d" % len(data))
        await limiter.wait()
        # Queued now, committed (with the other connections' marks) before the content is sent.
        claim = ledger.claim(row.outbox_id)
        stage = "MAIL FROM"
        try:
            reply = await smtp.execute_command(b"MAIL", b"FROM:<" + sender + b">", *options)
            if reply.code != 250:
                raise Refused(stage, reply.code, reply.message)
            stage = "RCPT TO"
            reply = await smtp.execute_command(b"RCPT", b"TO:<" + address.encode() + b">")
            if reply.code not in (250, 251):
                raise Refused(stage, reply.code, reply.message)
            if not await ledger.granted(claim):  # another sender has it: leave it to them
                await smtp.execute_command(b"RSET")
                return True
            stage = "DATA"
            await smtp.data(data)
        except Refused as exc:
            if await ledger.granted(claim):
                refused(row, exc.stage, exc.code, exc.text)
            if exc.code == 421 or not smtp.is_connected:
                return False
            reset = await smtp.execute_command(b"RSET")
            return reset.code == 250
        except aiosmtplib.SMTPResponseException as exc:  # the server answered DATA
            if await ledger.granted(claim):
                refused(row, stage, exc.code, exc.message)
            return exc.code != 421 and smtp.is_connected
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # Connection lost or timed out. Before DATA the server cannot have the message;
            # during DATA it may have it: the one place a duplicate can come from.
            if await ledger.granted(claim):
                why = f"{stage}: {type(exc).__name__}: {exc}"
                if stage != "DATA":
                    ledger.record("released", why, row.outbox_id)
                    progress.deferred += 1
                elif row.attempts + 1 >= MAX_ATTEMPTS:
                    ledger.record(
                        "ambiguous_failed",
                        f"given up after {MAX_ATTEMPTS} attempts; {why}",
                        row.outbox_id,
                    )
                    progress.ambiguous += 1
                    progress.failed += 1
                else:
                    ledger.record("ambiguous", why, row.outbox_id)
                    progress.ambiguous += 1
                    progress.deferred += 1
            return False
        ledger.record("sent", message_id, datetime.now(UTC), row.outbox_id)
        progress.sent += 1
        return True

    def refused(row: Row, stage: str, code: int, text: str) -> None:
        reply = f"{stage}: {code} {text}"
        if code >= 500 and (stage == "MAIL FROM" or is_policy(code, text)):
            ledger.record("released", reply, row.outbox_id)
            stop(stage, code, text)
        elif code >= 500:
            ledger.record("failed", reply, row.outbox_id)
            progress.failed += 1
        elif row.attempts + 1 >= MAX_ATTEMPTS:
            ledger.record(
                "failed",
                f"given up after {MAX_ATTEMPTS} temporary refusals; {reply}",
                row.outbox_id,
            )
            progress.failed += 1
        else:
            ledger.record("released", reply, row.outbox_id)
            progress.deferred += 1

    async def work() -> None:
        smtp: aiosmtplib.SMTP | None = None
        try:
            while (row := await queue.get()) is not None:
                if progress.stop or unreachable.is_set():
                    continue  # drain the queue; the rows stay pending
                if row.unsubscribed and composer.bulk:
                    ledger.record("skipped", row.outbox_id)
                    progress.skipped += 1
                    continue
                if smtp is None or not smtp.is_connected:
                    smtp = await connect()
                    if smtp is None:
                        continue
                if not await transaction(smtp, row):
                    smtp.close()
                    smtp = None
                progress.last_id = max(progress.last_id, row.outbox_id)
        finally:
            if smtp is not None and smtp.is_connected:
                try:
                    await asyncio.wait_for(smtp.quit(), 5)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    smtp.close()

    async def beat() -> None:
        while True:
            await asyncio.sleep(heartbeat_every)
            # Marks of connections that are waiting (for a connection, for the rate limit)
            # become durable at least this often. A failure here reaches the connections.
            with contextlib.suppress(Exception):
                await ledger.commit()
            if heartbeat:
                heartbeat(progress.as_dict())

    beater = asyncio.create_task(beat())
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(produce())
            for _ in range(connections):
                group.create_task(work())
    finally:
        beater.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beater
        await ledger.close()
    if heartbeat:
        heartbeat(progress.as_dict())
    elapsed = time.monotonic() - progress.started
    log.info(
        "campaign.pass_done",
        campaign=key,
        shard=shard,
        seconds=round(elapsed, 2),
        commits=ledger.commits,
        **progress.as_dict(),
    )
    if progress.stop:
        raise progress.stop
    result, pending, sending = await asyncio.to_thread(state_counts, key, engine, shard, shards)
    if pending or sending:
        reasons = []
        if progress.deferred:
            reasons.append(
                f"{progress.deferred} deferred by temporary SMTP replies or connections lost"
            )
        if unreachable.is_set():
            reasons.append("the SMTP server is unreachable")
        if sending:
            reasons.append(f"{sending} in flight with another sender")
        raise DeliveryDeferred(
            f"campaign {key}: {pending + sending} messages still to send"
            + (f" ({'; '.join(reasons)})" if reasons else "")
        )
    return result
