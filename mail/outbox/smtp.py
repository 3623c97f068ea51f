"""SMTP replies and pacing: what a refusal means, how it reads, how fast messages may start."""

from __future__ import annotations

import asyncio
import re
import time

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


def refusal(what: str, code: int, text: str) -> str:
    """How a refusal reads in an error: ``the SMTP server refused RCPT TO (550 ...)``."""
    return f"the SMTP server refused {what} ({code} {text})"


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
