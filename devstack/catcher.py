"""A local SMTP server (aiosmtpd) that keeps every message it receives.

``make demo`` saves each one as a readable ``.eml`` file under ``var/mail/``; the tests count
messages at this receiving end. Faults can be injected for the delivery tests: refuse some
addresses permanently (5xx) or once (4xx).
"""

from __future__ import annotations

import email
import threading
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]

    @property
    def campaign(self) -> str:
        return str(self.message.get("X-WSIS-Campaign", ""))


@dataclass
class Faults:
    """Replies to give instead of 250, by recipient address."""

    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)  # always
    refuse_once: dict[str, tuple[int, str]] = field(default_factory=dict)  # first time only


class _Handler:
    def __init__(self, catcher: MailCatcher) -> None:
        self.catcher = catcher

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: Any) -> str:
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
        self.catcher.store(Received(list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


class MailCatcher:
    """An aiosmtpd server on ``host:port``; ``folder`` set: every message saved as ``.eml``."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8025, folder: Path | None = None,
                 keep: bool = True) -> None:
        self.host = host
        self.port = port
        self.folder = folder
        self.keep = keep
        self.received: list[Received] = []
        self.count = 0
        self.faults = Faults()
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def store(self, item: Received) -> None:
        with self.lock:
            self.count += 1
            seq = self.count
            if self.keep:
                self.received.append(item)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / f"{seq:07d}.eml").write_bytes(item.data)

    def start(self) -> MailCatcher:
        self._controller = Controller(
            _Handler(self), hostname=self.host, port=self.port, ready_timeout=10,
            data_size_limit=10_000_000,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

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
