"""A local SMTP server (aiosmtpd) that keeps every message it receives.

``make demo`` saves each one as a readable ``.eml`` file under ``var/mail/``; the tests count
messages at this receiving end. Faults can be injected for the delivery tests: refuse some
addresses permanently (5xx) or once (4xx), or take the whole server down for a while
(``down()``/``up()``).

Run on its own, in another process (the email benchmark does)::

    python -m devstack.catcher --port 8025 --count-only      # aiosmtpd, counting only
    python -m devstack.catcher --port 8025 --sink            # a minimal counting SMTP sink

Either prints ``ready <port>`` and then answers lines on standard input: ``count`` (messages
received), ``stats`` (JSON: messages, distinct recipients, duplicates), ``reset``, ``quit``.
The sink (``devstack/sink.py``) speaks just enough SMTP for a client at a fraction of
aiosmtpd's cost per message, so that a benchmark measures the sender, not the catcher.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import functools
import logging
import ssl
import sys
import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from devstack.sink import answer, serve_sink

SHUTDOWN_REPLY = "421 4.3.2 Service shutting down, try again later"


@dataclass
class Received:
    recipients: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)  # e.g. ["SMTPUTF8", "SIZE=1234"]

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)

    @functools.cached_property
    def campaign(self) -> str:
        # The headers alone, once: tests ask every message for its campaign, often.
        headers = BytesParser(policy=policy.default).parsebytes(self.data, headersonly=True)
        return str(headers.get("X-WSIS-Campaign", ""))


@dataclass
class Faults:
    """Replies to give instead of 250, by recipient address."""

    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)  # always
    refuse_once: dict[str, tuple[int, str]] = field(default_factory=dict)  # first time only


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    def _shutting_down(self, server: Any) -> str:
        # Reply, then close this connection: a transaction in DATA completes first (its 250 is
        # written before the close), so the client knows the outcome of every message.
        asyncio.get_running_loop().call_soon(server.transport.close)
        return SHUTDOWN_REPLY

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.catcher.is_down:
            return self._shutting_down(server)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if self.catcher.is_down:
            return self._shutting_down(server)
        faults = self.catcher.faults
        key = address.lower()
        with self.catcher.lock:
            if key in faults.refuse:
                code, text = faults.refuse[key]
                return f"{code} {text}"
            if key in faults.refuse_once:
                code, text = faults.refuse_once.pop(key)
                return f"{code} {text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        received = Received(
            list(envelope.rcpt_tos), bytes(envelope.content), list(envelope.mail_options)
        )
        self.catcher.store(received)
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's controller, remembering its sessions so that ``down()`` can reach them."""

    def __init__(self, catcher: MailCatcher, **kwargs: Any) -> None:
        super().__init__(_Handler(catcher), **kwargs)
        self.sessions: weakref.WeakSet[Any] = weakref.WeakSet()

    def factory(self) -> Any:
        smtp = super().factory()  # type: ignore[no-untyped-call]
        self.sessions.add(smtp)
        return smtp


class MailCatcher:
    """An aiosmtpd server on ``host:port``; ``folder`` set: every message saved as ``.eml``.

    ``keep=False`` keeps no message, only the counts (``count`` and ``tally``, the number of
    messages per recipient address). ``smtputf8=True`` offers SMTPUTF8 (RFC 6531), so that
    internationalised addresses (``user@bücher.example``) are accepted.

    For the transport tests: ``starttls`` (a server TLS context) offers STARTTLS, and
    ``require_starttls`` refuses mail before it; ``implicit_tls`` speaks TLS from the first
    byte; ``credentials`` (login, password) requires AUTH, and ``logins`` records each attempt
    as (login, whether the connection was encrypted then).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8025,
        folder: Path | None = None,
        keep: bool = True,
        *,
        smtputf8: bool = False,
        starttls: ssl.SSLContext | None = None,
        require_starttls: bool = False,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.folder = folder
        self.keep = keep
        self.smtputf8 = smtputf8
        self.starttls = starttls
        self.require_starttls = require_starttls
        self.implicit_tls = implicit_tls
        self.credentials = credentials
        self.logins: list[tuple[str, bool]] = []
        self.received: list[Received] = []
        self.count = 0
        self.tally: Counter[str] = Counter()
        self.faults = Faults()
        self.lock = threading.Lock()
        self.is_down = False
        self._controller: _Controller | None = None
        # Files are named after this catcher's start, then a sequence: a second run beside
        # the first never overwrites its mail, and `ls` lists every run's in order.
        self.run = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")

    def store(self, item: Received) -> None:
        with self.lock:
            self.count += 1
            seq = self.count
            self.tally.update(r.lower() for r in item.recipients)
            if self.keep:
                self.received.append(item)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{self.run}-{seq:07d}.eml"
            with path.open("xb") as fh:  # never over an earlier message
                fh.write(item.data)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        login, password = auth_data.login.decode(), auth_data.password.decode()
        encrypted = server.transport.get_extra_info("sslcontext") is not None
        with self.lock:
            self.logins.append((login, encrypted))
        # handled=False: aiosmtpd itself answers (235, or 535 for wrong credentials).
        return AuthResult(success=(login, password) == self.credentials, handled=False)

    def start(self) -> MailCatcher:
        auth: dict[str, Any] = {}
        if self.credentials is not None:
            # Accepted over plain connections too, so that the tests see what a client sends.
            auth = {
                "auth_required": True,
                "auth_require_tls": False,
                "authenticator": self._authenticate,
            }
        self._controller = _Controller(
            self,
            hostname=self.host,
            port=self.port,
            ready_timeout=10,
            data_size_limit=10_000_000,
            enable_SMTPUTF8=self.smtputf8,
            tls_context=self.starttls,
            require_starttls=self.require_starttls,
            ssl_context=self.implicit_tls,
            **auth,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def down(self) -> None:
        """The server goes away: no new connection is accepted (connection refused) and every
        open session is answered 421 and closed at its next command."""
        controller = self._controller
        assert controller is not None and controller.server is not None
        self.is_down = True
        done = threading.Event()

        def close() -> None:
            assert controller.server is not None
            controller.server.close()
            done.set()

        controller.loop.call_soon_threadsafe(close)
        done.wait(5)

    def up(self) -> None:
        """Back after ``down()``: listening on the same port again."""
        controller = self._controller
        assert controller is not None

        async def listen() -> Any:
            return await controller._create_server()

        controller.server = asyncio.run_coroutine_threadsafe(listen(), controller.loop).result(5)
        self.is_down = False

    def duplicates(self) -> int:
        """Messages beyond the first for each recipient address."""
        with self.lock:
            return sum(n - 1 for n in self.tally.values() if n > 1)

    def per_recipient(self, campaign: str | None = None) -> Counter[tuple[str, str]]:
        """How many messages each (campaign, recipient) pair received."""
        with self.lock:
            items = list(self.received)
        counts: Counter[tuple[str, str]] = Counter()
        for item in items:
            c = item.campaign
            if campaign is None or c == campaign:
                for rcpt in item.recipients:
                    counts[(c, rcpt.lower())] += 1
        return counts

    def __enter__(self) -> MailCatcher:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--folder", type=Path, help="save every message here as .eml")
    parser.add_argument("--count-only", action="store_true", help="keep no message in memory")
    parser.add_argument(
        "--sink", action="store_true", help="a minimal counting SMTP sink instead of aiosmtpd"
    )
    parser.add_argument(
        "--smtputf8", action="store_true", help="offer SMTPUTF8 (the sink always does)"
    )
    parser.add_argument(
        "--report", metavar="REGEX", help="sink: print '<recipient> <match>' for each message"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.sink:
        asyncio.run(serve_sink(args.host, args.port, args.report))
        return
    catcher = MailCatcher(
        args.host, args.port, args.folder, keep=not args.count_only, smtputf8=args.smtputf8
    ).start()

    def stats() -> dict[str, int]:
        with catcher.lock:
            tally = catcher.tally
            return {
                "messages": catcher.count,
                "recipients": len(tally),
                "duplicates": sum(n - 1 for n in tally.values() if n > 1),
            }

    def reset() -> None:
        with catcher.lock:
            catcher.count = 0
            catcher.tally.clear()
            catcher.received.clear()

    print(f"ready {args.port}", flush=True)
    try:
        while answer(sys.stdin.readline(), stats, reset):
            pass
    finally:
        catcher.stop()


if __name__ == "__main__":
    main()
