"""Benchmark: mail that comes back, through the inbound server, against parsing alone.

    python bench/inbound.py              # 10,000 DSNs and 10,000 replies
    python bench/inbound.py --quick      # 1,000 of each

Everything is real and local: a SQLite file with N verified participants, an OCP opening
campaign to them (outbox rows, hence VERP return paths and signed Reply-To addresses), an
open OCP window; ``python -m mail.inbound`` in its own process; an SMTP sink in a third
(``python -m devstack.catcher --sink``) taking the acknowledgements. This process plays the
mailbox providers: N DSNs (Gmail, Outlook, Yahoo, qmail, RFC 3464, full mailbox: each to one
recipient's VERP address) and N replies (to each recipient's Reply-To, quoted text and a
signature included), over ``--connections`` SMTP connections.

For each kind it prints messages/s accepted (the last 250) and processed (the last one
done: a bounce scored, a submission recorded and acknowledged), against the same messages
parsed and classified alone in this process (no SMTP, no database), and their ratio
(``server/parsing ratio``). It checks the outcome: every "no such mailbox" suspended, every
reply a submission, every acknowledgement at the sink. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import sqlalchemy as sa
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the engine's modules first
    sys.path.insert(0, str(ROOT))

from bench.common import add_participants, address, free_port  # noqa: E402
from bench.email_fanout import SmtpServer  # noqa: E402
from core.db import create_db_engine, migrate  # noqa: E402
from core.settings import Settings  # noqa: E402
from mail.audience import audience_select  # noqa: E402
from mail.inbound.classify import bounce_of  # noqa: E402
from mail.inbound.process import parse_fast  # noqa: E402
from mail.inbound.server import refusal  # noqa: E402
from mail.inbound.submissions import own_text  # noqa: E402
from mail.outbox import enqueue  # noqa: E402
from mail.tokens import ReturnAddresses  # noqa: E402
from models.tables import (  # noqa: E402
    InboundMessage,
    MailStanding,
    OcpSubmission,
    OutboxMessage,
    Window,
)
from models.wire import Audience, CampaignRequest, MessageKind  # noqa: E402
from tests.inbound import samples  # noqa: E402
from tests.inbound.kit import plain  # noqa: E402

_in = InboundMessage.__table__  # type: ignore[attr-defined]
_outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
_standing = MailStanding.__table__  # type: ignore[attr-defined]
_ocp = OcpSubmission.__table__  # type: ignore[attr-defined]
_window = Window.__table__  # type: ignore[attr-defined]
PROCESS = "bench-2027-ocp"
FORMATS = ["gmail", "outlook", "yahoo", "qmail", "rfc3464", "mailbox_full"]
REPLY = """Proposal {i}: a session on community networks, with remote participation.

--
Participant {i}

On Mon, 1 Mar 2027 at 10:00, WSIS Secretariat <wsis-info@itu.int> wrote:
> Dear participant,
> the open consultation is open.
"""


def setup(url: str, settings: Settings, count: int) -> list[int]:
    """Participants, the OCP opening campaign's outbox rows, an open window; the row ids."""
    migrate(url)
    add_participants(url, count, verified=True)
    engine = create_db_engine(url)
    request = CampaignRequest(
        key=f"{PROCESS}:opening", process_id=PROCESS, kind=MessageKind.OCP_OPENING,
        audience=Audience.EVERYONE, title="WSIS Forum 2027", timezone="Europe/Zurich",
        when=datetime(2027, 1, 31, tzinfo=UTC),
    )  # fmt: skip
    enqueue(request, audience_select(request, settings), engine=engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            _window.insert().values(
                process_id=PROCESS,
                title="WSIS Forum 2027",
                kind="ocp-submissions",
                opens_at=now - timedelta(days=1),
                closes_at=now + timedelta(days=30),
                timezone="Europe/Zurich",
                state="open",
                rules_json="{}",
                revision=0,
            )
        )
        rows = conn.execute(
            sa.select(_outbox.c.id, _outbox.c.participant_id).order_by(_outbox.c.id)
        )
        ids = [int(r[0]) for r in rows]
    engine.dispose()
    return ids


def messages(settings: Settings, outbox_ids: list[int]) -> tuple[list[tuple[str, str, bytes]], ...]:
    """(envelope sender, recipient, content) of the DSNs and of the replies."""
    returns = ReturnAddresses(settings)
    dsns, replies = [], []
    for n, outbox_id in enumerate(outbox_ids):
        verp = returns.verp(outbox_id)
        assert verp is not None
        make = getattr(samples, FORMATS[n % len(FORMATS)])
        dsns.append(("", verp, make(verp, address(n))))
        reply_to = returns.reply(n + 1, f"{PROCESS}:opening")  # participant ids start at 1
        assert reply_to is not None
        body = plain(address(n), reply_to, "Re: WSIS Forum 2027", REPLY.format(i=n))
        replies.append((address(n), reply_to, body))
    return dsns, replies


def parsing_alone(batch: list[tuple[str, str, bytes]], kind: str) -> float:
    """Messages/s of the server's own check and the classification, in this process."""
    started = time.perf_counter()
    for _, _, raw in batch:
        assert refusal(raw) is None
        if kind == "dsn":
            bounce_of(parse_fast(raw))
        else:
            parse_fast(raw)  # routing, as the server does, then the submission's reading
            own_text(raw)
    return len(batch) / (time.perf_counter() - started)


async def through_server(
    port: int,
    batch: list[tuple[str, str, bytes]],
    connections: int,
    url: str,
    acks: SmtpServer | None = None,
) -> tuple[float, float]:
    """(accepted/s, processed/s) of ``batch`` through the inbound server; with ``acks``,
    processed means acknowledged too (every acknowledgement at the sink)."""
    engine = create_db_engine(url)
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(_in)).scalar_one()
    queue: asyncio.Queue[tuple[str, str, bytes]] = asyncio.Queue()
    for item in batch:
        queue.put_nowait(item)

    async def client() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60) as smtp:
            while not queue.empty():
                sender, rcpt, raw = queue.get_nowait()
                await smtp.mail(sender)
                await smtp.rcpt(rcpt)
                reply = await smtp.data(raw)
                assert reply.code == 250, reply

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    accepted = time.perf_counter() - started
    while True:
        with engine.connect() as conn:
            waiting = conn.execute(
                sa.select(sa.func.count()).select_from(_in).where(_in.c.state != "done")
            ).scalar_one()
            total = conn.execute(sa.select(sa.func.count()).select_from(_in)).scalar_one()
        if total - before == len(batch) and not waiting:
            break
        await asyncio.sleep(0.2)
    for _ in range(1500 if acks is not None else 0):  # at most 5 minutes more
        if acks is not None and acks.stats().get("messages", 0) >= len(batch):
            break
        await asyncio.sleep(0.2)
    processed = time.perf_counter() - started
    engine.dispose()
    return len(batch) / accepted, len(batch) / processed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 DSNs and 1,000 replies")
    parser.add_argument("--count", type=int, help="DSNs and replies of each (default 10,000)")
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    count = args.count or (1_000 if args.quick else 10_000)
    workdir = Path(tempfile.mkdtemp(prefix="wsis-bench-inbound-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    sink_port, inbound_port = free_port(), free_port()
    env = {
        "WSIS_DATABASE_URL": url,
        "WSIS_INBOUND_PORT": str(inbound_port),
        "WSIS_BOUNCE_DOMAIN": "bounces.itu.int",
        "WSIS_OCP_ADDRESS": "wsis-ocp@itu.int",
        "WSIS_PORTAL_SECRET": "bench secret, not a secret",
        "WSIS_SMTP_PORT": str(sink_port),
        "WSIS_SMTP_TLS": "none",
        "WSIS_LOG_LEVEL": "WARNING",
        "WSIS_LOG_FORMAT": "json",
    }
    settings = Settings(
        database_url=url, bounce_domain="bounces.itu.int", ocp_address="wsis-ocp@itu.int",
        portal_secret=SecretStr(env["WSIS_PORTAL_SECRET"]),
    )  # fmt: skip
    outbox_ids = setup(url, settings, count)
    dsns, replies = messages(settings, outbox_ids)
    print(f"{count} participants, {count} DSNs and {count} replies; work in {workdir}")
    sink = SmtpServer("sink", sink_port)
    log = (workdir / "inbound.log").open("wb")
    server = subprocess.Popen(  # noqa: ASYNC220 (started once, before anything is timed)
        [sys.executable, "-m", "mail.inbound"], cwd=ROOT, env={**os.environ, **env},
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", inbound_port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            break
        for kind, batch in (("dsn", dsns), ("reply", replies)):
            alone = parsing_alone(batch, kind)
            replies_acks = sink if kind == "reply" else None  # the DSNs get no answer
            accepted, processed = await through_server(
                inbound_port, batch, args.connections, url, replies_acks
            )
            label = "DSNs" if kind == "dsn" else "replies"
            print(
                f"{label:8} accepted {accepted:7.0f} msg/s, processed {processed:7.0f} msg/s; "
                f"parsing alone {alone:7.0f} msg/s; server/parsing ratio: {processed / alone:.2f}"
            )
        engine = create_db_engine(url)
        with engine.connect() as conn:
            suspended = conn.execute(
                sa.select(sa.func.count()).where(_standing.c.suspended_at.is_not(None))
            ).scalar_one()
            submitted = conn.execute(sa.select(sa.func.count()).select_from(_ocp)).scalar_one()
        mailbox = sum(1 for n in range(count) if FORMATS[n % len(FORMATS)] in FORMATS[:4])
        acks = sink.stats().get("messages", 0)
        print(f"suspended {suspended} (expected {mailbox}), submissions {submitted} "
              f"(expected {count}), acknowledgements at the sink {acks}")  # fmt: skip
    finally:
        server.terminate()
        server.wait(30)
        sink.close()
        log.close()


if __name__ == "__main__":
    asyncio.run(main())
