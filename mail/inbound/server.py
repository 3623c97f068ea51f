"""The inbound SMTP server: checks, stores before ``250``, then processes in the background.

``RCPT`` takes only our own addresses (``Routes``), at most ``inbound_max_recipients`` per
message (452 beyond, as RFC 5321 asks). ``DATA`` over ``inbound_max_bytes`` gets 552 (from
aiosmtpd); a message that cannot be parsed (no header section, headers neither ASCII nor
UTF-8, broken MIME structure, nested too deep) gets a 550 that says why. A good message is
stored in the database (idempotent by Message-ID) and only then answered ``250``; a database
failure answers 451 and the sender tries again. Processing runs after the answer, in a few
tasks; stored messages that no process finished (a crash) are swept up and taken again, so
any number of inbound servers can share one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from email import errors
from email.message import Message
from email.parser import BytesHeaderParser
from typing import Any, TypeVar

from aiosmtpd.smtp import SMTP
from sqlalchemy.engine import Engine

from core.log import get_logger
from core.settings import Settings
from intake.acks import send_ack
from mail.inbound.answers import claim_answer, send_answer
from mail.inbound.process import Routes, parse_fast, process
from mail.inbound.store import finish, message_key, store, take, waiting
from mail.signing import DnsFunc
from models.wire import CampaignRequest

log = get_logger(__name__)
T = TypeVar("T")

MAX_PARTS = 200
MAX_DEPTH = 8
_FATAL = (
    errors.MissingHeaderBodySeparatorDefect,
    errors.NoBoundaryInMultipartDefect,
    errors.StartBoundaryNotFoundDefect,
    errors.MultipartInvariantViolationDefect,
    errors.InvalidMultipartContentTransferEncodingDefect,
)


def _depth(msg: Message, level: int = 0) -> int:
    if level > MAX_DEPTH or not msg.is_multipart():
        return level
    payload = msg.get_payload()
    parts = payload if isinstance(payload, list) else []
    return max((_depth(p, level + 1) for p in parts if isinstance(p, Message)), default=level)


def refusal(raw: bytes) -> str | None:
    """Why ``raw`` is refused (an SMTP reply), or None when it is a message we can read."""
    end = raw.find(b"\r\n\r\n")
    end = raw.find(b"\n\n") if end < 0 else end
    if end <= 0:
        return "550 5.6.0 Malformed message: no header section"
    try:
        raw[:end].decode("utf-8")
    except UnicodeDecodeError:
        return "550 5.6.0 Undecodable message: headers must be ASCII or UTF-8"
    try:
        msg = parse_fast(raw)
        if not msg.keys() or msg.get("From") is None:
            return "550 5.6.0 Malformed message: no From header"
        if _depth(msg) > MAX_DEPTH:
            return "552 5.3.4 Message too complex: MIME parts nested too deep"
        for count, part in enumerate(msg.walk(), 1):
            if count > MAX_PARTS:
                return "552 5.3.4 Message too complex: too many MIME parts"
            if any(isinstance(d, _FATAL) for d in part.defects):
                return "550 5.6.0 Malformed MIME structure"
    except Exception:  # the parser gave up: the message is not one we can read
        return "550 5.6.0 Malformed message: it could not be parsed"
    return None


class _Handler:
    def __init__(self, server: InboundServer) -> None:
        self.server = server

    async def handle_RCPT(
        self, smtp: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= self.server.settings.inbound_max_recipients:
            return "452 4.5.3 Too many recipients"
        if self.server.routes.role(address) is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
        sender = str(envelope.mail_from or "")
        return await self.server.receive(
            "" if sender == "<>" else sender,  # aiosmtpd keeps the null sender as "<>"
            list(envelope.rcpt_tos),
            bytes(envelope.original_content or envelope.content),
        )


class InboundServer:
    """``python -m mail.inbound``: an aiosmtpd server on the running event loop."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        host: str | None = None,
        port: int | None = None,
        workers: int = 2,
        sweep_every: float = 30.0,
        dnsfunc: DnsFunc | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.host = host or settings.inbound_host
        self.port = settings.inbound_port if port is None else port
        self.routes = Routes(settings, dnsfunc)
        # A stored message comes with its envelope and content (already taken by this process
        # in the storing transaction); a swept one as an id, taken from the database.
        self.queue: asyncio.Queue[int | tuple[int, str, list[str], bytes]] = asyncio.Queue()
        # One database call at a time per process: SQLite writers that contend wait in its
        # busy handler's sleeps (milliseconds each), much longer than in this lock.
        self._db = threading.Lock()
        self._acks: set[asyncio.Task[None]] = set()
        self._ack_slots = asyncio.Semaphore(4)
        self.workers = workers
        self.sweep_every = sweep_every
        self.stored = 0
        self.duplicates = 0
        self._server: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> InboundServer:
        """Listen, and start the processing tasks (and take up what a crash left)."""
        loop = asyncio.get_running_loop()
        handler = _Handler(self)
        self._server = await loop.create_server(
            lambda: SMTP(
                handler,
                hostname="wsis-inbound",
                ident="WSIS inbound",
                data_size_limit=self.settings.inbound_max_bytes,
                enable_SMTPUTF8=True,
                timeout=60,
            ),
            host=self.host,
            port=self.port,
        )
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.workers)]
        self._tasks.append(asyncio.create_task(self._sweep()))
        return self

    async def stop(self) -> None:
        """Stop listening and processing (a message being processed is taken again later)."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)
        for task in [*self._tasks, *self._acks]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._acks, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until every message received so far is processed and acknowledged."""
        await self.queue.join()
        while self._acks:
            await asyncio.gather(*list(self._acks), return_exceptions=True)

    async def receive(self, mail_from: str, rcpt: list[str], raw: bytes) -> str:
        """A message's ``DATA``: checked, stored, then answered (see the module docstring)."""
        problem = await asyncio.to_thread(refusal, raw)
        if problem is not None:
            log.info("inbound.refused", reply=problem[:3], size=len(raw))
            return problem
        message_id = str(parse_headers(raw).get("Message-ID", ""))
        key = message_key(message_id, raw)
        try:
            inbound_id = await self._call(store, self.engine, key, mail_from, rcpt, raw)
        except Exception as exc:  # the database: the sender keeps it and tries again
            log.warning("inbound.not_stored", error=type(exc).__name__)
            return "451 4.3.0 Temporary failure storing the message, try again later"
        if inbound_id is None:
            self.duplicates += 1
            return "250 2.0.0 Already received"
        self.stored += 1
        self.queue.put_nowait((inbound_id, mail_from, rcpt, raw))
        return "250 2.0.0 Stored"

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in a thread, one database call at a time in this process."""

        def serial() -> T:
            with self._db:
                return fn(*args)

        return await asyncio.to_thread(serial)

    async def _work(self) -> None:
        while True:
            item = await self.queue.get()
            inbound_id = item if isinstance(item, int) else item[0]
            try:
                await self._process(item)
            except Exception as exc:  # left taken: swept up again after store.STALE
                log.warning(
                    "inbound.process_failed", inbound_id=inbound_id, error=type(exc).__name__
                )
            finally:
                self.queue.task_done()

    async def _process(self, item: int | tuple[int, str, list[str], bytes]) -> None:
        if isinstance(item, int):
            inbound_id = item
            taken = await self._call(take, self.engine, inbound_id)
            if taken is None:
                return  # done, or another inbound process has it
        else:
            inbound_id, taken = item[0], item[1:]
        result = await self._call(process, self.engine, self.routes, inbound_id, *taken)
        outcome, submitted = result.outcome, result.submitted
        if submitted is not None and submitted.answer is not None:
            answer = submitted.answer
            if await self._call(claim_answer, self.engine, self.settings, answer.to):
                await send_answer(answer, self.settings)
            else:
                outcome += "-not-again"  # answered once this period already: no loop
        if submitted is not None and submitted.ack is not None:
            # Queued in the outbox with the submission (durable): sent beside the next
            # messages' processing, not before it; if it fails, the outbox flush sends it.
            task = asyncio.create_task(self._acknowledge(submitted.ack))
            self._acks.add(task)
            task.add_done_callback(self._acks.discard)
        await self._call(finish, self.engine, inbound_id, outcome)
        log.info("inbound.processed", inbound_id=inbound_id, outcome=outcome)

    async def _acknowledge(self, ack: CampaignRequest) -> None:
        async with self._ack_slots:
            try:
                await send_ack(ack, self.engine, self.settings)
            except Exception as exc:  # it stays in the outbox for the next flush
                log.warning("inbound.ack_not_sent", error=type(exc).__name__)

    async def _sweep(self) -> None:
        while True:
            for inbound_id in await self._call(waiting, self.engine):
                self.queue.put_nowait(inbound_id)
            await asyncio.sleep(self.sweep_every)


def parse_headers(raw: bytes) -> Message:
    """The header section only (for the Message-ID)."""
    return BytesHeaderParser().parsebytes(raw)
