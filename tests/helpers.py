"""Helpers the tests share: one way to wait for a condition, and the SMTP catcher's valves.

``assert_eventually`` is the one polling loop of the suite: it retries an assertion until it
holds or a generous deadline passes (the machine may be busy), then raises the last failure.
``Gate`` holds a campaign's first message inside ``DATA``; ``Slow`` makes every ``DATA`` take
a while (a slow SMTP server), so that a test acts while a campaign runs, every time.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from devstack.catcher import MailCatcher, Received

T = TypeVar("T")


async def assert_eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 60.0, every: float = 0.2
) -> T:
    """Await ``check()`` until it returns without an ``AssertionError``; return its value.

    After ``within`` seconds the last ``AssertionError`` is raised, so a failure says what
    was still not true rather than "timed out"."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await check()
        except AssertionError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(every)


class Gate:
    """Holds the catcher's first DATA of ``campaign`` until ``open()``."""

    def __init__(self, mail: MailCatcher, campaign: str) -> None:
        self.campaign = campaign
        self.reached = threading.Event()
        self.released = threading.Event()
        self._store = mail.store
        mail.store = self._held  # type: ignore[method-assign]

    def _held(self, item: Received) -> None:
        if item.campaign == self.campaign and not self.released.is_set():
            self.reached.set()
            self.released.wait(30)
        self._store(item)

    def open(self) -> None:
        self.released.set()


class Slow:
    """Every DATA the catcher receives takes ``seconds`` (one at a time: the catcher's loop
    waits), as a slow or throttling SMTP server does."""

    def __init__(self, mail: MailCatcher, seconds: float) -> None:
        self.seconds = seconds
        self._store = mail.store
        mail.store = self._slow  # type: ignore[method-assign]

    def _slow(self, item: Received) -> None:
        time.sleep(self.seconds)
        self._store(item)
