"""A minimal counting SMTP sink, for benchmarks (``python -m devstack.catcher --sink``).

It speaks just enough SMTP for a client (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) at a
fraction of aiosmtpd's cost per message, so that a benchmark measures the sender, not the
catcher; it counts messages and recipients, and can report what a pattern finds in each.
"""

from __future__ import annotations

import asyncio
import email
import json
import re
import sys
from collections import Counter
from email import policy
from typing import Any

_EHLO = "250-{host}\r\n250-SIZE 33554432\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 HELP\r\n"


class _SinkCounts:
    def __init__(self) -> None:
        self.messages = 0
        self.tally: Counter[str] = Counter()

    def reset(self) -> None:
        self.messages = 0
        self.tally.clear()

    def stats(self) -> dict[str, int]:
        return {
            "messages": self.messages,
            "recipients": len(self.tally),
            "duplicates": sum(n - 1 for n in self.tally.values() if n > 1),
        }


def _report(pattern: re.Pattern[str], content: bytes, recipients: list[str]) -> None:
    """Print ``<recipient> <match>`` for what ``pattern`` finds in the message's text parts:
    how a benchmark learns a sign-in link without an SMTP server in its own process."""
    message = email.message_from_bytes(content, policy=policy.default)
    for part in message.walk():
        if part.get_content_maintype() != "text":
            continue
        found = pattern.search(str(part.get_content()))
        if found:
            for rcpt in recipients:
                sys.stdout.write(f"{rcpt} {found.group(0)}\n")
            sys.stdout.flush()
            return


class _SinkProtocol(asyncio.Protocol):
    """SMTP, just enough of it: replies to each command line, counts each message."""

    def __init__(
        self, counts: _SinkCounts, host: str, report: re.Pattern[str] | None = None
    ) -> None:
        self.counts = counts
        self.host = host
        self.report = report
        self.buffer = b""
        self.in_data = False
        self.rcpts: list[str] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(f"220 {self.host} WSIS sink ESMTP\r\n".encode())

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        replies: list[bytes] = []
        while True:
            if self.in_data:
                if self.buffer.startswith(b".\r\n"):
                    end, skip = 0, 3
                else:
                    end = self.buffer.find(b"\r\n.\r\n")
                    skip = 5
                if end < 0:
                    break
                if self.report is not None:
                    _report(self.report, self.buffer[:end], self.rcpts)
                self.buffer = self.buffer[end + skip :]
                self.in_data = False
                self.counts.messages += 1
                self.counts.tally.update(self.rcpts)
                self.rcpts = []
                replies.append(b"250 OK queued\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            line, self.buffer = self.buffer[:end], self.buffer[end + 2 :]
            verb = line[:4].upper()
            if verb == b"EHLO":
                replies.append(_EHLO.format(host=self.host).encode())
            elif verb == b"RCPT":
                address = line[8:].split(b">", 1)[0].lstrip(b" <")
                self.rcpts.append(address.decode("utf-8", "replace").lower())
                replies.append(b"250 OK\r\n")
            elif verb == b"DATA":
                self.in_data = True
                replies.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"RSET":
                self.rcpts = []
                replies.append(b"250 OK\r\n")
            elif verb == b"QUIT":
                replies.append(b"221 Bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            elif verb in (b"HELO", b"MAIL", b"NOOP"):
                if verb == b"MAIL":
                    self.rcpts = []
                replies.append(b"250 OK\r\n")
            else:
                replies.append(b"500 Command not recognized\r\n")
        if replies:
            self.transport.write(b"".join(replies))


async def serve_sink(host: str, port: int, report: str | None = None) -> None:
    """Serve the sink on ``host``:``port`` until standard input says ``quit`` or ends (the
    control commands of ``devstack.catcher``); with ``report``, print each message's
    recipient and what the pattern matched in it."""
    loop = asyncio.get_running_loop()
    counts = _SinkCounts()
    pattern = re.compile(report) if report else None
    server = await loop.create_server(lambda: _SinkProtocol(counts, host, pattern), host, port)
    print(f"ready {port}", flush=True)
    async with server:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not answer(line, counts.stats, counts.reset):
                return


def answer(line: str, stats: Any, reset: Any) -> bool:
    """One control command from standard input; False to stop."""
    command = line.strip()
    if not line or command == "quit":  # end of input, or asked to
        return False
    if command == "count":
        print(stats()["messages"], flush=True)
    elif command == "stats":
        print(json.dumps(stats()), flush=True)
    elif command == "reset":
        reset()
        print("ok", flush=True)
    return True
