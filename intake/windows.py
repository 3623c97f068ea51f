"""The window check every intake write makes, inside its own transaction."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, select

from mail.compose import local_time
from models.tables import Window, WindowKind, WindowState
from models.window_rules import window_status

# Built once: every page and write of intake looks a window up (several for each ballot).
_WINDOW = select(Window).where(
    Window.process_id == sa.bindparam("process_id"), Window.kind == sa.bindparam("kind")
)


class Refused(Exception):
    """Intake refused a submission or vote. The message says why in plain English (the CLI
    prints it); ``reason`` and ``details`` say it for a page that speaks the reader's
    language (``not-open``, ``opens-later``, ``closed``, ``cancelled``, ...), and ``window``
    is the window that decided, when one did."""

    def __init__(
        self,
        message: str,
        *,
        reason: str = "refused",
        window: Window | None = None,
        **details: object,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.window = window
        self.details = details


def check_window(
    session: Session, process_id: str, kind: WindowKind, now: datetime, what: str
) -> Window:
    """The window of ``process_id``; ``Refused`` unless ``opens_at <= now < closes_at``.

    The row's dates decide, not whether the workflow has run its open step yet: a window is
    created *scheduled* when its process starts, so it opens and closes to the second even
    while no worker runs. Only a close or cancel by the workflow ends it early.
    """
    window = session.exec(_WINDOW, params={"process_id": process_id, "kind": kind}).first()
    if window is None:
        raise Refused(f"{what} for {process_id} is not open", reason="not-open")
    status = window_status(window.state, window.opens_at, window.closes_at, now)
    if status is WindowState.CANCELLED:
        raise Refused(f"{what} for {process_id} was cancelled", reason="cancelled", window=window)
    if status is WindowState.SCHEDULED:
        raise Refused(
            f"{what} opens {local_time(window.opens_at, window.timezone)}",
            reason="opens-later",
            window=window,
        )
    if status is WindowState.CLOSED:
        raise Refused(
            f"{what} closed at the deadline, {local_time(window.closes_at, window.timezone)}; "
            f"late submissions are not accepted",
            reason="closed",
            window=window,
        )
    return window
