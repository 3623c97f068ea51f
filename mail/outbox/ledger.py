"""The ledger: every state change of the outbox rows during a delivery pass, group-committed.

Senders queue *claims* (``pending`` -> ``sending``, before a message's content goes on the
wire) and *marks* (``sent``, ``failed``, back to ``pending``...). Whoever needs a claim to be
durable commits everything queued by then, for every connection, in one transaction: with 8
connections about 8 messages a commit, and no task, timer or thread in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from models.tables import OutboxMessage

_OUTBOX = OutboxMessage.__table__  # type: ignore[attr-defined]

# Plain SQL on one DBAPI connection held for the whole pass: a group of marks costs a few
# statements and one commit, with none of the ORM/Core per-execution overhead (measured: a
# quarter of the CPU of the same group through SQLAlchemy Core). SQLite >= 3.35 and PostgreSQL.
_OUTCOME_SQL = {
    "sent": "UPDATE outbox SET state='sent', message_id=?, sent_at=?, error=NULL WHERE id=?",
    "failed": "UPDATE outbox SET state='failed', error=?, sent_at=NULL WHERE id=?",
    # Back to pending: a temporary refusal, or a connection lost before the content was sent.
    "released": "UPDATE outbox SET state='pending', error=?, sent_at=NULL WHERE id=?",
    # Back to pending, flagged: the content was sent, the reply was lost.
    "ambiguous": "UPDATE outbox SET state='pending', ambiguous=TRUE, error=?, sent_at=NULL "
    "WHERE id=?",
    "ambiguous_failed": "UPDATE outbox SET state='failed', ambiguous=TRUE, error=?, "
    "sent_at=NULL WHERE id=?",
    "skipped": "UPDATE outbox SET state='skipped' WHERE id=?",
}
_CLAIM_SQL = (
    "UPDATE outbox SET state='sending', attempts=attempts+1, sent_at=? "
    "WHERE state='pending' AND id IN ({marks}) RETURNING id"
)


class LedgerError(Exception):
    """The outbox could not be written: no claim is granted any more, and the pass must end.

    Marks queued by then are kept and tried once more when the ledger is closed."""


class Claim:
    """A queued claim of one row; ``granted`` once committed."""

    __slots__ = ("done", "granted", "outbox_id", "then")

    def __init__(self, outbox_id: int) -> None:
        self.outbox_id = outbox_id
        self.done = False
        self.granted = False
        # What to record for the row if the claim is granted after its sender gave it up.
        self.then: tuple[str, tuple[Any, ...]] | None = None


class Ledger:
    """Group commit of outbox state changes, led by whoever needs a commit.

    Marks and claims are queued. A connection about to send a message's content needs its
    claim committed: it commits everything queued by then, for every connection (its own claim,
    the others' claims, all ``sent`` marks), in one transaction. Commits happen only when a
    claim is needed, so they are as big as the traffic makes them, with no task, timer or
    thread in between. (SQLite: on the event loop itself while the write lock is free at once:
    a WAL commit without fsync takes a fraction of a millisecond; in a thread when another
    writer holds the lock. Other databases: in a thread.)

    A commit in a thread is settled by its own completion, not by the task that started it: if
    that task is cancelled, the claims of the group are still answered, and the next commit
    waits for it, so two transactions never share the connection and no sender waits for an
    answer nobody will give.

    Changes to one row are queued only after its claim was committed, so within a group every
    row appears once and the statements of a group can run by kind.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._mark = "?" if engine.dialect.dbapi.paramstyle == "qmark" else "%s"  # type: ignore[union-attr]
        self._time = _OUTBOX.c.sent_at.type.bind_processor(engine.dialect) or (lambda v: v)
        self._raw: Any = None
        self._busy_ms = _BUSY_MS
        self._ops: dict[str, list[tuple[Any, ...]]] = {}
        self._claims: list[Claim] = []
        self._in_thread: asyncio.Task[None] | None = None
        self.failure: LedgerError | None = None
        self.commits = 0

    def _sql(self, text: str) -> str:
        return text if self._mark == "?" else text.replace("?", self._mark)

    def record(self, op: str, *params: Any) -> None:
        """Queue a change (parameters in the order of its statement); it is committed with the
        next group. Still accepted after a failure: ``close`` tries them once more."""
        self._ops.setdefault(op, []).append(params)

    def claim(self, outbox_id: int) -> Claim:
        """Queue a claim of a pending row (``pending`` -> ``sending``)."""
        if self.failure:
            raise self.failure
        claim = Claim(outbox_id)
        self._claims.append(claim)
        return claim

    async def granted(self, claim: Claim) -> bool:
        """Whether this sender got the row, once the claim is durable (``LedgerError`` if the
        outbox could not be written)."""
        while not claim.done:
            await self.commit()
        if not claim.granted and self.failure:
            raise self.failure
        return claim.granted

    def abandon(self, claim: Claim, op: str, *params: Any) -> None:
        """The sender gives the row up (it is being cancelled): a claim still queued is
        withdrawn; a granted one gets ``op`` recorded, now or when its commit answers."""
        if not claim.done:
            if claim in self._claims:
                self._claims.remove(claim)
                claim.done = True
            else:  # in a commit in progress: settled by ``_settle``
                claim.then = (op, params)
        elif claim.granted:
            self.record(op, *params)

    async def commit(self) -> None:
        """Commit everything queued so far (after the commit in progress, if any)."""
        while self._in_thread is not None:
            with contextlib.suppress(Exception):  # its failure is ``self.failure``
                await asyncio.shield(self._in_thread)
        if self.failure:
            raise self.failure
        if not self._ops and not self._claims:
            return
        ops, self._ops = self._ops, {}
        claims, self._claims = self._claims, []
        ids = [c.outbox_id for c in claims]
        # On the loop only with the connection in hand: taking one from the pool may wait for
        # another task to give one back, and that task cannot run while the loop waits.
        if self._sqlite and self._raw is not None:
            try:
                got = self._apply(ops, ids, wait=False)
            except _Busy:
                pass
            except Exception as exc:
                raise self._fail(ops, claims, exc) from exc
            else:
                self._settle(claims, got)
                return
        # A task, not a bare future with a done callback: once it is done ``_in_thread`` is
        # already None, so a waiter above never spins on a finished future whose callback has
        # yet to run (awaiting a done future does not yield to the loop).
        self._in_thread = asyncio.ensure_future(self._commit_in_thread(ops, claims, ids))
        try:
            await asyncio.shield(self._in_thread)
        except Exception as exc:
            raise self.failure or LedgerError(str(exc)) from None  # set by _commit_in_thread

    async def _commit_in_thread(
        self, ops: dict[str, Any], claims: list[Claim], ids: list[int]
    ) -> None:
        try:
            loop = asyncio.get_running_loop()
            got = await loop.run_in_executor(None, self._apply_waiting, ops, ids)
        except Exception as exc:
            raise self._fail(ops, claims, exc) from exc
        else:
            self._settle(claims, got)
        finally:
            self._in_thread = None

    def _settle(self, claims: list[Claim], got: set[int]) -> None:
        self.commits += 1
        for claim in claims:
            claim.granted = claim.outbox_id in got
            claim.done = True
            if claim.granted and claim.then is not None:
                self.record(claim.then[0], *claim.then[1])

    def _fail(
        self, ops: dict[str, list[tuple[Any, ...]]], claims: list[Claim], error: BaseException
    ) -> LedgerError:
        """The transaction was rolled back: its claims are refused, its marks queued again."""
        if self.failure is None:
            self.failure = LedgerError(f"the outbox could not be written ({type(error).__name__})")
            self.failure.__cause__ = error
        for op, params in ops.items():
            self._ops.setdefault(op, [])[:0] = params
        for claim in claims:
            claim.done = True
        return self.failure

    async def close(self) -> None:
        """Commit what is still queued (once more after a failure), then give the database
        connection back. Raises ``LedgerError`` if the outbox could not be written.

        Both happen in one thread that finishes even if this task is cancelled meanwhile, so
        the connection is never released in the middle of a transaction."""
        while self._in_thread is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._in_thread)
        for claim in self._claims:  # nobody waits for these any more
            claim.done = True
        self._claims = []
        ops, self._ops = self._ops, {}
        future = asyncio.get_running_loop().run_in_executor(None, self._finish, ops)
        future.add_done_callback(lambda done: done.exception())  # retrieved even if cancelled
        try:
            await asyncio.shield(future)
        except Exception as exc:
            self._fail(ops, [], exc)
        if self.failure:
            raise self.failure

    def _finish(self, ops: dict[str, list[tuple[Any, ...]]]) -> None:
        try:
            if ops:
                self._apply(ops, [], wait=True)
                self.commits += 1
        finally:
            self._release()

    def _apply_waiting(self, ops: dict[str, list[tuple[Any, ...]]], claims: list[int]) -> set[int]:
        return self._apply(ops, claims, wait=True)

    def _apply(
        self, ops: dict[str, list[tuple[Any, ...]]], claims: list[int], *, wait: bool
    ) -> set[int]:
        if self._raw is None:
            self._raw = self._engine.raw_connection()
        dbapi = self._raw.driver_connection
        cursor = dbapi.cursor()
        try:
            if self._sqlite:  # the engine leaves transaction control to us: take the lock
                busy_ms = _BUSY_MS if wait else 0
                if busy_ms != self._busy_ms:
                    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
                    self._busy_ms = busy_ms
                try:
                    cursor.execute("BEGIN IMMEDIATE")
                except sqlite3.OperationalError as exc:  # "database is locked"
                    if wait:
                        raise
                    raise _Busy from exc
            try:
                for op, params in ops.items():
                    if op == "sent":
                        params = [(mid, self._time(at), row) for mid, at, row in params]
                    cursor.executemany(self._sql(_OUTCOME_SQL[op]), params)
                got: set[int] = set()
                if claims:
                    marks = ",".join([self._mark] * len(claims))
                    cursor.execute(
                        self._sql(_CLAIM_SQL).format(marks=marks),
                        [self._time(datetime.now(UTC)), *claims],
                    )
                    got = {row[0] for row in cursor.fetchall()}
                if self._sqlite:
                    cursor.execute("COMMIT")
                else:
                    dbapi.commit()
                return got
            except BaseException:
                with contextlib.suppress(Exception):
                    if self._sqlite:
                        cursor.execute("ROLLBACK")
                    else:
                        dbapi.rollback()
                raise
        finally:
            cursor.close()

    def _release(self) -> None:
        """Give the connection back to the pool as the pool gave it."""
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            if self._sqlite and self._busy_ms != _BUSY_MS:
                raw.driver_connection.execute(f"PRAGMA busy_timeout={_BUSY_MS}")
        finally:
            raw.close()


class _Busy(Exception):
    """Another writer holds the SQLite write lock."""


_BUSY_MS = 30000  # core/db.py's busy_timeout
