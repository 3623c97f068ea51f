"""The pending rows of a pass, handed to its connections one at a time, read a page ahead."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from mail.outbox.rows import Row


class Pages:
    """The rows ``read(after)`` gives, page after page, for any number of connections.

    There is no producer task: the connections pull. The next page is read in a thread while
    the current one is sent; a connection that finds no row in hand waits for that read, which
    belongs to no connection's task. A connection cancelled while it waits leaves the read to
    the others, and a failed read raises its error in every connection that asks, so none of
    them can wait for rows that nobody will bring.
    """

    def __init__(self, read: Callable[[int], list[Row]], page_size: int) -> None:
        self._read = read
        self._page_size = page_size
        self._rows: deque[Row] = deque()
        self._ahead: asyncio.Future[list[Row]] | None = self._start(0)

    def _start(self, after: int) -> asyncio.Future[list[Row]]:
        return asyncio.get_running_loop().run_in_executor(None, self._read, after)

    async def next(self) -> Row | None:
        """The next pending row, or None when there is none left."""
        while not self._rows:
            ahead = self._ahead
            if ahead is None:
                return None
            page = await asyncio.shield(ahead)  # a cancelled waiter must not cancel the read
            if self._ahead is ahead:  # the first connection back turns the page
                self._turn(page)
        return self._rows.popleft()

    def _turn(self, page: list[Row]) -> None:
        self._rows.extend(page)
        # A short page is the last one: rows only ever leave "pending" after they were read
        # (a row released back to pending waits for the next pass), none are added.
        if len(page) < self._page_size:
            self._ahead = None
        else:
            self._ahead = self._start(page[-1].outbox_id)

    def close(self) -> None:
        """Forget a read still in progress (its outcome is retrieved, so never reported)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.add_done_callback(lambda done: done.cancelled() or done.exception())
        self._rows.clear()
