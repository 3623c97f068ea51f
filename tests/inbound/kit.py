"""The parts of the inbound tests: a recording SMTP catcher (envelope sender included), a
rogue auto-responder, and the inbound server on loopback."""

from __future__ import annotations

import smtplib
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import aiosmtplib
from aiosmtpd.controller import Controller


@dataclass
class Got:
    mail_from: str
    rcpt: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        msg = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(msg, EmailMessage)
        return msg


@dataclass
class Recorder:
    """An aiosmtpd server that keeps every envelope; ``on_message`` runs for each."""

    port: int
    got: list[Got] = field(default_factory=list)
    on_message: Callable[[Got], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        got = Got(str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.content))
        with self.lock:
            self.got.append(got)
        if self.on_message is not None:
            threading.Thread(target=self.on_message, args=(got,), daemon=True).start()
        return "250 OK"

    def start(self) -> Recorder:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=10)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()

    def to(self, address: str) -> list[Got]:
        with self.lock:
            return [g for g in self.got if address in g.rcpt]

    def clear(self) -> None:
        with self.lock:
            self.got.clear()


def rogue_responder(inbound_port: int, me: str, target: str) -> Callable[[Got], None]:
    """An auto-responder that ignores RFC 3834: it answers everything it gets, to ``target``,
    from ``me``, as a person would (no Auto-Submitted)."""

    def respond(got: Got) -> None:
        reply = EmailMessage()
        reply["From"] = me
        reply["To"] = target
        reply["Subject"] = "Re: " + str(got.message.get("Subject", ""))
        reply["Message-ID"] = f"<{uuid.uuid4().hex}@responder.example.org>"
        reply.set_content("Thank you for your message. I will read it when I can.")
        with smtplib.SMTP("127.0.0.1", inbound_port, timeout=10) as smtp:
            smtp.send_message(reply, from_addr=me, to_addrs=[target])

    return respond


async def send(port: int, raw: bytes, mail_from: str, rcpt: list[str]) -> Any:
    """Send ``raw`` to the inbound server as an MTA would (``mail_from`` "" is the null
    sender of bounces); the reply to DATA. Raises when every recipient is refused."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30) as smtp:
        reply = await smtp.mail(mail_from)
        accepted = 0
        for address in rcpt:
            answer = await smtp.execute_command(b"RCPT", b"TO:<" + address.encode() + b">")
            accepted += answer.code in (250, 251)
        if not accepted:
            raise aiosmtplib.SMTPRecipientsRefused([])
        reply = await smtp.data(raw)
    return reply


def plain(sender: str, to: str, subject: str, body: str, **headers: str) -> bytes:
    """A person's plain-text message."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)
