"""The SMTP side of a delivery pass: opening a connection, classifying replies, pacing."""

from __future__ import annotations

import asyncio
import re
import time

import aiosmtplib

from core.settings import Settings

_ENHANCED = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
_AUTH_CODES = {530, 534, 535, 538}


class Refused(Exception):
    """A reply other than the expected one, at a stage of the SMTP transaction."""

    def __init__(self, stage: str, code: int, text: str) -> None:
        super().__init__(f"{stage}: {code} {text}")
        self.stage, self.code, self.text = stage, code, text


def is_policy(code: int, text: str) -> bool:
    """Authentication, or an enhanced status code of class 5.7 (security or policy)."""
    if code in _AUTH_CODES:
        return True
    enhanced = _ENHANCED.match(text)
    return bool(enhanced and enhanced.group(1) == "5" and enhanced.group(2) == "7")


def client(settings: Settings) -> aiosmtplib.SMTP:
    """An unconnected client for the configured server."""
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_starttls,
        use_tls=False,
        timeout=settings.smtp_timeout_seconds,
    )


class Unusable(Exception):
    """The server refused us in a way no retry can fix (a 5xx greeting, our credentials)."""

    def __init__(self, what: str, code: int, text: str) -> None:
        super().__init__(f"{what}: {code} {text}")
        self.what, self.code, self.text = what, code, text


async def open_connection(settings: Settings) -> aiosmtplib.SMTP:
    """A connected client that has greeted the server (EHLO, or HELO for a server without
    ESMTP). Raises ``Unusable`` for a refusal no retry can fix, and ``aiosmtplib.SMTPException``
    or ``OSError`` when the server is unreachable or answered 4xx."""
    smtp = client(settings)
    try:
        await smtp.connect()
        if smtp.last_ehlo_response is None:
            await _greet(smtp)
    except aiosmtplib.SMTPAuthenticationError as exc:
        smtp.close()
        raise Unusable("our credentials", exc.code, exc.message) from None
    except aiosmtplib.SMTPResponseException as exc:  # greeting or EHLO refused
        smtp.close()
        if exc.code >= 500:
            raise Unusable("the connection", exc.code, exc.message) from None
        raise
    except BaseException:
        smtp.close()
        raise
    return smtp


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError as exc:
        if exc.code not in (500, 502):
            raise
        await smtp.helo()  # a server without ESMTP


class RateLimiter:
    """At most ``rate`` message starts per second across all connections."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = 0.0

    async def wait(self) -> None:
        """Return when the next message may start."""
        if not self._interval:
            return
        now = time.monotonic()
        at = max(self._next, now)
        self._next = at + self._interval
        if at > now:
            await asyncio.sleep(at - now)
