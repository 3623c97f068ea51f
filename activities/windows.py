"""Intake windows: open, move and close the database rows that intake checks.

Every write carries its revision (the workflow's history length when it asked) and lands only
on a row of the same or an older revision: two overlapping changes, or a retried attempt that
arrives late, can never leave the database on an older plan than the workflow's.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from temporalio import activity

from models.tables import OcpSubmission, Project, Vote, Window, WindowKind, WindowState
from models.wire import WindowRequest, WindowResult

_w = Window.__table__  # type: ignore[attr-defined]

# What a closed window counts, per kind: the frozen result recorded at the close.
_COUNTED: dict[str, sa.Table] = {
    WindowKind.OCP_SUBMISSIONS.value: OcpSubmission.__table__,  # type: ignore[attr-defined]
    WindowKind.PROJECT_SUBMISSIONS.value: Project.__table__,  # type: ignore[attr-defined]
    WindowKind.VOTING.value: Vote.__table__,  # type: ignore[attr-defined]
}


class WindowActivities:
    """Window rows live in the database so that intake enforces deadlines without a worker."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @activity.defn
    def open_window(self, request: WindowRequest) -> WindowResult:
        """Create (or re-time) the window and mark it open; idempotent."""
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            row = conn.execute(
                sa.select(_w.c.id, _w.c.state, _w.c.revision).where(
                    _w.c.process_id == request.process_id, _w.c.kind == request.kind
                )
            ).first()
            values = {
                "title": request.title,
                "rules_json": request.rules.to_json(),
                "opens_at": request.opens_at,
                "closes_at": request.closes_at,
                "timezone": request.timezone,
                "revision": request.revision,
            }
            if row is None:
                conn.execute(
                    _w.insert().values(
                        process_id=request.process_id,
                        kind=request.kind,
                        state=WindowState.OPEN.value,
                        **values,
                    )
                )
            elif row.state == WindowState.SCHEDULED.value and row.revision <= request.revision:
                conn.execute(
                    _w.update()
                    .where(_w.c.id == row.id)
                    .values(state=WindowState.OPEN.value, **values)
                )
        return self._result(request.process_id, request.kind)

    @activity.defn
    def move_window(self, request: WindowRequest) -> WindowResult:
        """Set a window's dates, creating it *scheduled* if it does not exist yet: processes
        schedule their windows when they start, and a moved deadline moves the row."""
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            exists = conn.execute(
                sa.select(_w.c.id).where(
                    _w.c.process_id == request.process_id, _w.c.kind == request.kind
                )
            ).first()
            if exists:
                conn.execute(
                    _w.update()
                    .where(_w.c.id == exists.id, _w.c.revision <= request.revision)
                    .values(
                        opens_at=request.opens_at,
                        closes_at=request.closes_at,
                        title=request.title,
                        rules_json=request.rules.to_json(),
                        revision=request.revision,
                    )
                )
            else:
                conn.execute(
                    _w.insert().values(
                        process_id=request.process_id,
                        kind=request.kind,
                        state=WindowState.SCHEDULED.value,
                        title=request.title,
                        opens_at=request.opens_at,
                        closes_at=request.closes_at,
                        timezone=request.timezone,
                        rules_json=request.rules.to_json(),
                        revision=request.revision,
                    )
                )
        return self._result(request.process_id, request.kind)

    @activity.defn
    def close_window(self, request: WindowRequest) -> WindowResult:
        """Close the window and freeze what it accepted; idempotent."""
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            accepted = 0
            table = _COUNTED.get(request.kind)
            if table is not None:
                accepted = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(table)
                    .where(table.c.process_id == request.process_id)
                ).scalar_one()
            conn.execute(
                _w.update()
                .where(
                    _w.c.process_id == request.process_id,
                    _w.c.kind == request.kind,
                    _w.c.state != WindowState.CLOSED.value,
                    _w.c.revision <= request.revision,
                )
                .values(
                    state=WindowState.CLOSED.value,
                    closed_at=datetime.now(UTC),
                    accepted_count=accepted,
                    revision=request.revision,
                )
            )
        return self._result(request.process_id, request.kind)

    @activity.defn
    def cancel_window(self, request: WindowRequest) -> WindowResult:
        """Cancel a window: intake refuses everything from now on."""
        with self.engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
            conn.execute(
                _w.update()
                .where(
                    _w.c.process_id == request.process_id,
                    _w.c.kind == request.kind,
                    _w.c.revision <= request.revision,
                )
                .values(
                    state=WindowState.CANCELLED.value,
                    closed_at=datetime.now(UTC),
                    revision=request.revision,
                )
            )
        return self._result(request.process_id, request.kind)

    def _result(self, process_id: str, kind: str) -> WindowResult:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(_w.c.state, _w.c.accepted_count).where(
                    _w.c.process_id == process_id, _w.c.kind == kind
                )
            ).first()
        return WindowResult(
            process_id=process_id,
            kind=kind,
            state=row.state if row else "missing",
            accepted=(row.accepted_count or 0) if row else 0,
        )
