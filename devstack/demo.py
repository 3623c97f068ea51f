"""``make demo``: the embedded stack and a demo cycle, until Ctrl-C.

Starts the Temporal CLI dev server (persistent database under ``var/``, Web UI on 8233, the
search attributes registered), an SMTP server that saves every message as a ``.eml`` file under
``var/mail/``, the participants' portal (http://localhost:8000), the worker, and the 2024 cycle
file squeezed into about seven minutes, three of them in the OCP's submission window and three
in public online voting (same workflows, same config format: the squeezed file is written to
``var/demo-cycle.toml``). Synthetic participants sign in to the portal by the links the catcher
receives, submit through its forms and vote through its ballot, as a person can beside them in
a browser; the "Expert Group" selects winners along the way. One participant, ``NEWCOMER``,
is left alone for the person trying the portal. The console shows the narration; the log lines
go to ``var/log/``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import logging
import signal
from datetime import UTC, datetime, timedelta

import httpx
import tomli_w
import uvicorn
from temporalio.client import Client
from temporalio.service import RPCError

from cli.cycle import start_cycle
from core.db import get_engine, migrate
from core.log import configure_logging, get_logger
from core.settings import PROJECT_ROOT, VAR_DIR, Settings, get_settings
from devstack.catcher import MailCatcher
from devstack.community import Community, Persona
from devstack.squeeze import squeezed
from devstack.temporal import port_open, start_dev_server
from intake.participants import import_participants
from mail.inbound.server import InboundServer
from models.cycle import CycleConfig
from models.cycle_file import load_cycle
from models.wire import ProcessStatus, WinnerSelection
from portal.app import create_app
from reports.status import registry_size
from services import staff
from services.temporal import connect
from worker import build_worker
from workflows.prizes import PrizeContestWorkflow
from workflows.process import ProcessWorkflow

log = get_logger("demo")
SAMPLES = PROJECT_ROOT / "samples" / "participants.csv"
# The sample registry's participant whom the demo never scripts: the README's account for a
# person trying the portal (no submission, no project, no ballot of the demo's).
NEWCOMER = "demo39@example.org"
ENDED = ("completed", "cancelled")


DEMO_STAFF = "secretariat@demo.example.org"  # the demo's secretariat account (staff add)


def demo_cycle(minutes: float) -> CycleConfig:
    """cycles/2024.toml moved to start in 15 s, with ``minutes`` in the OCP's submission window
    and as many in public online voting; written to var/."""
    cycle = load_cycle(PROJECT_ROOT / "cycles" / "2024.toml")
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=15)
    demo = squeezed(cycle, start, timedelta(minutes=minutes))
    demo = demo.model_copy(
        update={"id": f"wsis-2024-demo-{start:%H%M%S}", "title": f"{cycle.display_title} (demo)"}
    )
    path = VAR_DIR / "demo-cycle.toml"
    path.write_text(tomli_w.dumps(demo.model_dump(mode="json", exclude_none=True)))
    return load_cycle(path)  # the written file is a valid cycle file


def personas() -> list[Persona]:
    """The sample registry's people who play the community: all but the newcomer."""
    with SAMPLES.open(encoding="utf-8") as fh:
        return [
            Persona(r["name"], r["email"], r["organization"], r["country"], r["stakeholder_type"])
            for r in csv.DictReader(fh)
            if r["email"] != NEWCOMER
        ]


async def play_participants(client: Client, cycle: CycleConfig, community: Community) -> None:
    """Act as the community, through the portal: submit while the windows are open, vote;
    and as the Expert Group, select the winners (a secretariat's update). Returns once every
    process has ended, its last phase told."""
    done: set[str] = set()
    ended: set[str] = set()
    processes = [cycle.ocp_id, *(cycle.contest_id(c) for c in cycle.contests)]
    while len(ended) < len(processes):
        for wid in processes:
            try:
                status = await client.get_workflow_handle(wid).query(ProcessWorkflow.status)
            except RPCError:
                continue
            if status.phase in ENDED:
                ended.add(wid)
            key = f"{wid}:{status.phase}"
            if key in done:
                continue
            done.add(key)
            print(f"  {datetime.now(UTC):%H:%M:%S}Z  {wid}: {status.phase_name}", flush=True)
            try:
                await _act(client, cycle, wid, status, community)
            except (httpx.HTTPError, RuntimeError) as exc:  # a window edge of the squeezed
                log.warning("demo.act_failed", process=wid, error=str(exc))  # calendar
        await asyncio.sleep(1)


async def _act(
    client: Client, cycle: CycleConfig, wid: str, status: ProcessStatus, community: Community
) -> None:
    people = community.people
    if wid == cycle.ocp_id and status.phase == "opening":
        sent = await asyncio.gather(*(community.submit_ocp(p, wid) for p in people[:8]))
        print(f"             {sent.count(200)} official submissions, through the form", flush=True)
    contest = next((c for c in cycle.contests if cycle.contest_id(c) == wid), None)
    if contest is None:
        return
    codes = [c.code for c in contest.categories][:3]
    if status.phase == "submission":
        sent = await asyncio.gather(
            *(
                community.submit_project(p, wid, codes[i % len(codes)], f"{p.organization} {i}")
                for i, p in enumerate(people[:12])
            )
        )
        print(f"             {sent.count(200)} projects submitted, through the form", flush=True)
    elif status.phase == "public-voting":
        cast = await asyncio.gather(*(community.vote(p, wid, i) for i, p in enumerate(people)))
        print(f"             {cast.count(200)} ballots cast, through the ballot", flush=True)
    elif status.phase == "expert-selection":
        handle = client.get_workflow_handle(wid)
        shortlists = await handle.query(PrizeContestWorkflow.shortlists)
        for category, ids in shortlists.items():
            await handle.execute_update(
                PrizeContestWorkflow.select_winner,
                WinnerSelection(
                    category=category, project_ids=ids[:1], requested_by="expert-group (demo)"
                ),
            )
        print(f"             the Expert Group selected {len(shortlists)} winner(s)", flush=True)


async def _all_ended(client: Client, cycle: CycleConfig, player: asyncio.Task[None]) -> None:
    """The cycle's workflow has finished and the narration has told every process's end."""
    await client.get_workflow_handle(cycle.cycle_id).result()
    await asyncio.shield(player)


async def start_portal(settings: Settings) -> uvicorn.Server:
    """The portal, served in this process beside the worker (``python -m portal`` serves it
    alone); refuses to start on a port already taken."""
    if port_open(settings.portal_host, settings.portal_port):
        raise RuntimeError(
            f"port {settings.portal_port} is already in use: set WSIS_PORTAL_PORT (and "
            f"WSIS_PORTAL_URL) to another one"
        )
    config = uvicorn.Config(
        create_app(settings, get_engine()),
        host=settings.portal_host,
        port=settings.portal_port,
        log_config=None,
        access_log=False,  # paths carry tokens
        lifespan="off",
    )
    server = uvicorn.Server(config)
    asyncio.get_running_loop().create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn says so with a flag, not an event)
        await asyncio.sleep(0.05)
    return server


def log_to_file() -> str:
    """Every log line (worker, portal, activities) as JSON in var/log/, not on the console,
    which keeps the narration."""
    folder = VAR_DIR / "log"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    configure_logging(force_json=True)
    root = logging.getLogger()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(root.handlers[0].formatter)
    root.handlers[:] = [handler]
    return str(path.relative_to(PROJECT_ROOT))


async def main(minutes: float) -> None:
    settings = get_settings()
    VAR_DIR.mkdir(exist_ok=True)
    log_file = log_to_file()
    migrate()
    mail_dir = VAR_DIR / "mail"
    port = settings.temporal_address.rsplit(":", 1)[1]
    server = start_dev_server(
        VAR_DIR / "temporal.db", port=int(port), log_file=VAR_DIR / "temporal.log"
    )
    catcher = MailCatcher(
        host="127.0.0.1", port=settings.smtp_port, folder=mail_dir, keep=False
    ).start()
    community = Community(settings.portal_url, catcher, personas())
    portal = await start_portal(settings)
    inbound = await InboundServer(settings, get_engine()).start()  # mail that comes back
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        report = import_participants(SAMPLES, get_engine(), verified=True)
        staff.add(get_engine(), DEMO_STAFF, "secretariat", actor="demo", name="Demo secretariat")
        client = await connect(settings)
        cycle = demo_cycle(minutes)
        async with build_worker(client, settings, get_engine()):
            recipients = registry_size(get_engine())
            print(await start_cycle(client, cycle, settings.task_queue, recipients=recipients))
            print(
                f"""
  Temporal Web UI   http://localhost:8233/namespaces/default/workflows
                    filter: WsisYear = 2024 AND WsisPhase = "public-voting"
  Portal            {settings.portal_url}/
                    sign in as {NEWCOMER}: the demo leaves this participant alone;
                    the link and its code arrive in {mail_dir}/ (the newest .eml file)
  Console           {settings.portal_url}/staff/  (the secretariat's: sign in as {DEMO_STAFF};
                    the link arrives in {mail_dir}/, then scan the QR code with an
                    authenticator app, or give the key it shows to one:
                    .venv/bin/python -c "import pyotp; print(pyotp.TOTP('KEY').now())")
  Mail received     {mail_dir}/  (one .eml file per message)
  Inbound SMTP      {inbound.host}:{inbound.port} (bounces, complaints, replies: mail.inbound)
  Participants      {report.accepted} imported from {SAMPLES.relative_to(PROJECT_ROOT)}
  Cycle file        {VAR_DIR / "demo-cycle.toml"} (cycles/2024.toml: {minutes:g} minutes to
                    send an official submission, then {minutes:g} minutes to vote)
  Log               {log_file}
  Status            .venv/bin/python starter.py status {cycle.cycle_id}

  Running until Ctrl-C. Phases as they begin:""",
                flush=True,
            )
            player = asyncio.create_task(play_participants(client, cycle, community))
            done = asyncio.create_task(_all_ended(client, cycle, player))
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait([done, waiter], return_when=asyncio.FIRST_COMPLETED)
            if done.done():
                print(
                    f"\n  The demo cycle is complete: {catcher.count} messages in {mail_dir}/."
                    "\n  The UI stays up until Ctrl-C.",
                    flush=True,
                )
                await stop.wait()
            done.cancel()
            player.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await player
    finally:
        await community.close()
        portal.should_exit = True
        await inbound.stop()
        catcher.stop()
        server.terminate()
        server.wait(timeout=30)
        print("stopped: dev server, mail catcher, portal, inbound SMTP, worker")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--minutes",
        type=float,
        default=3.0,
        help="minutes in the OCP's submission window, and again in public online voting",
    )
    asyncio.run(main(parser.parse_args().minutes))
