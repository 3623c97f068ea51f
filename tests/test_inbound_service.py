"""``python -m mail.inbound`` as deployed: two processes on one database (stateless), the
same message given to both stored and processed once, SIGTERM stops each cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.tables import InboundMessage
from tests.helpers import assert_eventually

from .conftest import free_port
from .inbound import samples
from .inbound.kit import send

ROOT = Path(__file__).resolve().parent.parent
_in = InboundMessage.__table__  # type: ignore[attr-defined]
BOUNCES = "wsis-bounces@bounces.example.org"


def start(db_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "WSIS_DATABASE_URL": db_url,
        "WSIS_INBOUND_PORT": str(port),
        "WSIS_BOUNCE_DOMAIN": "bounces.example.org",
        "WSIS_PORTAL_SECRET": "a test key, not a secret",
        "WSIS_SMTP_PORT": str(free_port()),  # nothing listens: no answer is sent here
        "WSIS_LOG_FORMAT": "json",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "mail.inbound"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


async def listening(port: int) -> None:
    """Wait until the inbound service accepts connections on ``port``."""

    async def accepts() -> None:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            raise AssertionError("the inbound service did not start") from None
        writer.close()

    await assert_eventually(accepts, within=15, every=0.1)


def done(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(_in.c.state, _in.c.outcome).order_by(_in.c.id))
        return [(str(r[0]), str(r[1])) for r in rows]


async def test_two_inbound_processes_share_one_database(db_url: str, engine: Engine) -> None:
    ports = [free_port(), free_port()]
    processes = [start(db_url, port) for port in ports]
    try:
        for port in ports:
            await listening(port)
        same = samples.gmail(BOUNCES, "gone@example.com")
        for port in ports:  # the MX retried on the other server: one message all the same
            assert (await send(port, same, "", [BOUNCES])).code == 250
        other = samples.qmail(BOUNCES, "gone2@example.com")
        assert (await send(ports[1], other, "", [BOUNCES])).code == 250

        async def both_done() -> None:
            assert done(engine) == [("done", "bounce-unmatched"), ("done", "bounce-unmatched")]

        await assert_eventually(both_done)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outputs = [process.communicate(timeout=20)[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    logs = b"".join(outputs)
    assert b"gone@example.com" not in logs and b"Traceback" not in logs
    assert b"inbound.listening" in logs


async def test_a_message_stored_before_a_crash_is_processed_after_it(
    db_url: str, engine: Engine
) -> None:
    """Stored and answered 250, then the process died before processing it: the next
    process (here, after the stale delay) takes it up and processes it once."""
    from datetime import UTC, datetime, timedelta

    from mail.inbound.server import InboundServer
    from mail.inbound.store import STALE

    from .inbound.kit import Recorder
    from .inbound.stack import inbound_settings

    recorder = Recorder(free_port()).start()
    settings = inbound_settings(db_url, recorder, bounce_domain="bounces.example.org")
    crashing = await InboundServer(settings, engine, workers=0).start()  # never processes
    raw = samples.qmail(BOUNCES, "gone@example.com")
    assert (await send(crashing.port, raw, "", [BOUNCES])).code == 250
    await crashing.stop()
    assert done(engine) == [("working", "None")]
    with engine.begin() as conn:  # the crash was longer ago than the stale delay
        conn.execute(_in.update().values(taken_at=datetime.now(UTC) - STALE - timedelta(1)))
    after = await InboundServer(settings, engine, port=free_port()).start()
    try:

        async def taken_over() -> None:
            assert done(engine)[0][0] == "done"

        await assert_eventually(taken_over)
        assert (await send(after.port, raw, "", [BOUNCES])).code == 250  # the MX retried
        await after.drain()
    finally:
        await after.stop()
        recorder.stop()
    assert done(engine) == [("done", "bounce-unmatched")]
