"""The email outbox: a row per (campaign, participant), sent over a few reused SMTP connections.

Exactly once, by business key:

* ``enqueue`` writes the campaign row and one outbox row per recipient in one transaction,
  under the unique key (campaign, participant). The audience is frozen at that moment: a retry,
  a Reset from the Web UI or a second shard finds the campaign and adds nobody twice.
* ``deliver`` sends the rows still pending, in outbox order, a page at a time (the next page is
  read while this one is sent). Before a message's content goes on the wire its row is
  durably *claimed* (``pending`` -> ``sending``, a conditional update, so two senders can never
  both claim a row); after the server's 250 it is marked ``sent``. Claims are queued as MAIL
  FROM goes out; the first connection whose RCPT TO is answered commits everything the
  connections queued by then (group commit: with 8 connections about 8 messages a commit), so
  the database costs well under a commit per message. The ``sent``
  mark of a connection's message is committed with that connection's next claim at the latest:
  each connection has at most ONE message in doubt. A crash leaves at most one ``sending`` row
  per connection; the next attempt flags those rows *ambiguous* and sends them again (with the
  same Message-ID, so a receiving system that deduplicates by Message-ID shows it once). A
  duplicate can only come from such a row (SMTP cannot be exactly-once, RFC 1047): we prefer a
  rare duplicate to a participant who misses a deadline. Ambiguous rows are counted and
  reported. A connection lost *before* the message content was sent is not ambiguous: that
  row simply goes back to ``pending``.
* Replies: 4xx is temporary: the row goes back to ``pending`` with the reply and the attempt
  ends with ``DeliveryDeferred``, so Temporal retries the activity with backoff and only the
  pending rows go out again (after ``MAX_ATTEMPTS`` tries a row is given up as failed). 421
  (closing) means reconnect. 5xx for an address (RCPT, or DATA for that one recipient) is
  permanent: the row is marked failed with the server's reply and sending goes on. 5xx for
  authentication (530, 534, 535, 538), for the sender (MAIL FROM), at the greeting, or with an
  enhanced status code of class 5.7 (security or policy) stops the campaign
  (``CampaignStopped``): nothing a retry could fix, and every other message would meet the same
  refusal. The rows not sent stay pending for when the cause is fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.db import get_engine
from core.log import get_logger
from core.settings import Settings
from mail.compose import Composer, Recipient
from models.tables import Campaign, OutboxMessage, OutboxState, Participant
from models.wire import CampaignRequest, CampaignResult

log = get_logger(__name__)

PAGE_SIZE = 1000
# A row refused temporarily (4xx) or lost during DATA this many times is given up as failed.
MAX_ATTEMPTS = 10
# Outside the campaign activity (an acknowledgement sent by intake, the outbox flush), a row
# claimed by another sender is only taken over after this long: it may still be in flight.
STALE_AFTER = timedelta(minutes=5)

_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_participant = Participant.__table__  # type: ignore[attr-defined]
_campaign = Campaign.__table__  # type: ignore[attr-defined]

_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_AUTH_CODES = {530, 534, 535, 538}
# What may stand in an SMTP MAIL/RCPT command: no space, control character or angle bracket.
_SAFE_ADDRESS = re.compile(r"[^\s<>\x00-\x1f\x7f]+@[^\s<>@\x00-\x1f\x7f]+")


class CampaignStopped(Exception):
    """The SMTP server refused the sender, our credentials or our mail by policy: retrying
    cannot help until someone fixes the cause."""


class DeliveryDeferred(Exception):
    """Some messages got a temporary (4xx) reply or the server was unreachable; retry later."""


# -- The campaign and its rows ------------------------------------------------------------------


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


def _in_shard(shard: int, shards: int) -> list[Any]:
    return [_outbox.c.participant_id % shards == shard] if shards > 1 else []


def _state_counts(
    key: str, engine: Engine, shard: int = 0, shards: int = 1
) -> tuple[CampaignResult, int, int]:
    """The campaign's counts (of one shard), with the pending and in-flight rows."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_outbox.c.state, _outbox.c.ambiguous, sa.func.count())
            .where(_outbox.c.campaign_key == key, *_in_shard(shard, shards))
            .group_by(_outbox.c.state, _outbox.c.ambiguous)
        ).all()
    result = CampaignResult(key=key)
    pending = sending = 0
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
        elif state == OutboxState.PENDING:
            pending += count
        elif state == OutboxState.SENDING:
            sending += count
    return result, pending, sending


def campaign_counts(key: str, *, engine: Engine, shard: int = 0, shards: int = 1) -> CampaignResult:
    """What the outbox says of a campaign (or of one of its shards): recipients, sent, failed,
    skipped, ambiguous. Shards partition the recipients: their counts add up."""
    return _state_counts(key, engine, shard, shards)[0]


def _campaign_token(key: str, engine: Engine) -> str:
    """Stable for the campaign, different for another campaign (or the same key re-created):
    the local part of its Message-IDs."""
    with engine.connect() as conn:
        created = conn.execute(
            sa.select(_campaign.c.created_at).where(_campaign.c.key == key)
        ).scalar()
    seed = f"{key}|{created.isoformat() if created else ''}"
    return hashlib.sha256(seed.encode()).hexdigest()[:20]


def _recover_in_flight(
    key: str, shard: int, shards: int, engine: Engine, older_than: timedelta
) -> int:
    """Rows left ``sending`` by a sender that is gone: their outcome is unknown (ambiguous).

    While a row is ``sending``, ``sent_at`` holds when it was claimed.
    """
    where = [
        _outbox.c.campaign_key == key,
        _outbox.c.state == OutboxState.SENDING.value,
        *_in_shard(shard, shards),
    ]
    if older_than > timedelta(0):
        where.append(_outbox.c.sent_at < datetime.now(UTC) - older_than)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        result = conn.execute(
            _outbox.update()
            .where(*where)
            .values(
                state=OutboxState.PENDING.value,
                ambiguous=True,
                sent_at=None,
                error="outcome unknown: the sender stopped during the SMTP exchange",
            )
        )
        return int(result.rowcount or 0)


@dataclass(frozen=True)
class _Row:
    outbox_id: int
    attempts: int
    recipient: Recipient
    unsubscribed: bool


def _page(key: str, after: int, shard: int, shards: int, engine: Engine) -> list[_Row]:
    query = (
        sa.select(
            _outbox.c.id,
            _outbox.c.attempts,
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
            *_in_shard(shard, shards),
        )
        .order_by(_outbox.c.id)
        .limit(PAGE_SIZE)
    )
    with engine.connect() as conn:
        return [
            _Row(r[0], r[1], Recipient(r[2], r[3], r[4], r[5], r[6]), bool(r[7]))
            for r in conn.execute(query)
        ]


# -- The ledger: every state change of the rows, group-committed ------------------------------

# Plain SQL on one DBAPI connection held for the whole pass: a group of marks costs a few
# statements and one commit, with none of the ORM/Core per-execution overhead (measured: a
# quarter of the CPU of the same group through SQLAlchemy Core). SQLite >= 3.35 and PostgreSQL.
_OUTCOME_SQL = {
    "sent": "UPDATE outbox SET state='sent', message_id=?, sent_at=?, error=NULL WHERE id=?",
    "failed": "UPDATE outbox SET state='failed', error=?, sent_at=NULL WHERE id=?",
    # Back to pending: a temporary refusal, or a connection lost before the content was sent.
    "released": "UPDATE outbox SET state='pending', error=?, sent_at=NULL WHERE id=?",
    # Back to pending, flagged: the content was sent, the reply was lost.
    "ambiguous": "UPDATE outbox SET state='pending', ambiguous=TRUE, error=?, sent_at=NULL "
    "WHERE id=?",
    "ambiguous_failed": "UPDATE outbox SET state='failed', ambiguous=TRUE, error=?, "
    "sent_at=NULL WHERE id=?",
    "skipped": "UPDATE outbox SET state='skipped' WHERE id=?",
}
_CLAIM_SQL = (
    "UPDATE outbox SET state='sending', attempts=attempts+1, sent_at=? "
    "WHERE state='pending' AND id IN ({marks}) RETURNING id"
)


class _Claim:
    """A queued claim of one row; ``granted`` once committed."""

    __slots__ = ("done", "granted", "outbox_id")

    def __init__(self, outbox_id: int) -> None:
        self.outbox_id = outbox_id
        self.done = False
        self.granted = False


class _Ledger:
    """Group commit of outbox state changes, led by whoever needs a commit.

    Marks and claims are queued. A connection about to send a message's content needs its
    claim committed: it commits everything queued by then, for every connection (its own claim,
    the others' claims, all ``sent`` marks), in one transaction. Commits happen only when a
    claim is needed, so they are as big as the traffic makes them, with no task, timer or
    thread in between. (SQLite: on the event loop itself while the write lock is free at once:
    a WAL commit without fsync takes a fraction of a millisecond; in a thread when another
    writer holds the lock. Other databases: in a thread.)

    Changes to one row are queued only after its claim was committed, so within a group every
    row appears once and the statements of a group can run by kind.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._mark = "?" if engine.dialect.dbapi.paramstyle == "qmark" else "%s"  # type: ignore[union-attr]
        self._time = _outbox.c.sent_at.type.bind_processor(engine.dialect) or (lambda v: v)
        self._raw: Any = None
        self._busy_ms = _BUSY_MS
        self._ops: dict[str, list[tuple[Any, ...]]] = {}
        self._claims: list[_Claim] = []
        self._lock = asyncio.Lock()
        self._error: BaseException | None = None
        self.commits = 0

    def _sql(self, text: str) -> str:
        return text if self._mark == "?" else text.replace("?", self._mark)

    def record(self, op: str, *params: Any) -> None:
        """Queue a change (parameters in the order of its statement); it is committed with the
        next group."""
        if self._error:
            raise self._error
        self._ops.setdefault(op, []).append(params)

    def claim(self, outbox_id: int) -> _Claim:
        """Queue a claim of a pending row (``pending`` -> ``sending``)."""
        if self._error:
            raise self._error
        claim = _Claim(outbox_id)
        self._claims.append(claim)
        return claim

    async def granted(self, claim: _Claim) -> bool:
        """Whether this sender got the row, once the claim is durable."""
        while not claim.done:
            await self.commit()
        return claim.granted

    async def commit(self) -> None:
        """Commit everything queued so far."""
        async with self._lock:
            if self._error:
                raise self._error
            if not self._ops and not self._claims:
                return
            ops, self._ops = self._ops, {}
            claims, self._claims = self._claims, []
            ids = [c.outbox_id for c in claims]
            try:
                got: set[int] | None = None
                if self._sqlite:
                    with contextlib.suppress(_Busy):
                        got = self._apply(ops, ids, wait=False)
                if got is None:
                    got = await asyncio.to_thread(self._apply, ops, ids, wait=True)
            except BaseException as exc:
                self._error = exc
                raise
            self.commits += 1
            for claim in claims:
                claim.granted = claim.outbox_id in got
                claim.done = True

    async def close(self) -> None:
        try:
            if self._error is None:
                await self.commit()
        finally:
            if self._raw is not None:
                await asyncio.to_thread(self._release)
        if self._error:
            raise self._error

    def _apply(
        self, ops: dict[str, list[tuple[Any, ...]]], claims: list[int], *, wait: bool
    ) -> set[int]:
        if self._raw is None:
            self._raw = self._engine.raw_connection()
        dbapi = self._raw.driver_connection
        cursor = dbapi.cursor()
        try:
            if self._sqlite:  # the engine leaves transaction control to us: take the lock
                busy_ms = _BUSY_MS if wait else 0
                if busy_ms != self._busy_ms:
                    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
                    self._busy_ms = busy_ms
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:  # "database is locked"
                    if wait:
                        raise
                    raise _Busy from exc
            try:
                for op, params in ops.items():
                    if op == "sent":
                        params = [(mid, self._time(at), row) for mid, at, row in params]
                    cursor.executemany(self._sql(_OUTCOME_SQL[op]), params)
                got: set[int] = set()
                if claims:
                    marks = ",".join([self._mark] * len(claims))
                    cursor.execute(
                        self._sql(_CLAIM_SQL).format(marks=marks),
                        [self._time(datetime.now(UTC)), *claims],
                    )
                    got = {row[0] for row in cursor.fetchall()}
                if self._sqlite:
                    cursor.execute("COMMIT")
                else:
                    dbapi.commit()
                return got
            except BaseException:
                with contextlib.suppress(Exception):
                    if self._sqlite:
                        cursor.execute("ROLLBACK")
                    else:
                        dbapi.rollback()
                raise
        finally:
            cursor.close()

    def _release(self) -> None:
        """Give the connection back to the pool as the pool gave it."""
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            if self._sqlite and self._busy_ms != _BUSY_MS:
                raw.driver_connection.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        finally:
            raw.close()


class _Busy(Exception):
    """Another writer holds the SQLite write lock."""


_BUSY_MS = 30000  # core/db.py's busy_timeout


# -- Sending ------------------------------------------------------------------------------------


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


class _Refused(Exception):
    """A reply other than the expected one, at a stage of the SMTP transaction."""

    def __init__(self, stage: str, code: int, text: str) -> None:
        super().__init__(f"{stage}: {code} {text}")
        self.stage, self.code, self.text = stage, code, text


def _is_policy(code: int, text: str) -> bool:
    """Authentication, or an enhanced status code of class 5.7 (security or policy)."""
    if code in _AUTH_CODES:
        return True
    enhanced = _ENHANCED.match(text)
    return bool(enhanced and enhanced.group(1) == "5" and enhanced.group(2) == "7")


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
        _recover_in_flight, key, shard, shards, engine, recover_after
    )
    if progress.ambiguous:
        log.warning("campaign.recovered_in_flight", campaign=key, ambiguous=progress.ambiguous)
    token = await asyncio.to_thread(_campaign_token, key, engine)
    composer = Composer(
        request,
        sender=settings.mail_from,
        unsubscribe_url=settings.unsubscribe_url,
        unsubscribe_mailto=settings.unsubscribe_mailto,
        extra=extra,
    )
    sender = composer.sender_address.encode("utf-8")
    domain = composer.domain

    ledger = _Ledger(engine)
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
            smtp = _smtp(settings)
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

    async def transaction(smtp: aiosmtplib.SMTP, row: _Row) -> bool:
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
                raise _Refused(stage, reply.code, reply.message)
            stage = "RCPT TO"
            reply = await smtp.execute_command(b"RCPT", b"TO:<" + address.encode() + b">")
            if reply.code not in (250, 251):
                raise _Refused(stage, reply.code, reply.message)
            if not await ledger.granted(claim):  # another sender has it: leave it to them
                await smtp.execute_command(b"RSET")
                return True
            stage = "DATA"
            await smtp.data(data)
        except _Refused as exc:
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

    def refused(row: _Row, stage: str, code: int, text: str) -> None:
        reply = f"{stage}: {code} {text}"
        if code >= 500 and (stage == "MAIL FROM" or _is_policy(code, text)):
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
    result, pending, sending = await asyncio.to_thread(_state_counts, key, engine, shard, shards)
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
