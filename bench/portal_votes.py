"""Benchmark: N signed-in voters cast full ballots at once through the real portal.

    python bench/portal_votes.py               # 20,000 voters, 64 at a time, SQLite and PostgreSQL
    python bench/portal_votes.py --quick       # 5,000 voters
    python bench/portal_votes.py --voters 2000 --concurrency 32 --databases sqlite

Everything is real and local: the database (a SQLite file; PostgreSQL from the ``pgserver``
wheel), the portal in its own process (``python -m portal``, as deployed), an SMTP sink in a
third process taking the receipt e-mails. The contest is the WSIS Prizes' default: 18
categories, 20 nominated projects in each, the all-categories rule, so a full ballot is 18
votes. Each voter is already signed in (the sessions are written to the database before the
run: ``bench/signin.py`` measures signing in) and does what a person does: open the ballot,
choose a project in every category, open the review page, confirm; the portal casts the
ballot in one transaction and sends its receipt.

Baseline: the same number of other voters' ballots through ``intake.votes.cast_votes`` in
this process, one call (one transaction) per ballot, on as many threads as the portal's
writer has (one on SQLite, which has one writer; 16 on PostgreSQL): no HTTP, no pages, no
receipts. It prints votes/s and the p50/p99 latency of each page and of a whole ballot, and
ends with ``portal/direct ratio: X.XX`` (the lowest over the databases run).
A benchmark, not a test: the figures depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import random
import re
import secrets
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere: the engine's modules first
    sys.path.insert(0, str(ROOT))

from bench.common import Browsers, PortalProcess, add_participants, address, free_port, percentiles  # noqa: E402
from core.db import create_db_engine, migrate  # noqa: E402
from intake.sessions import BROWSER  # noqa: E402
from intake.tokens import stored  # noqa: E402
from intake.votes import Ballot, cast_votes  # noqa: E402
from models.cycle import DEFAULT_CATEGORIES  # noqa: E402
from models.plan import BallotRule  # noqa: E402
from models.tables import Participant, PortalSession, Project, Window  # noqa: E402
from portal.work import writer_for  # noqa: E402

KEY = "bench-portal-key-0123456789abcdef0123456789abcdef"
CONTEST = "wsis-2030-prizes"
PER_CATEGORY = 20
CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
CHOICE = re.compile(r'name="(choice-[^"]+)" value="(\d+)"')
CATEGORIES = {c.code: c.name for c in DEFAULT_CATEGORIES}
PAGES = ("ballot", "review", "confirm")
DESCRIPTION = "A community network that brings the Internet to a mountain valley. " * 8


def prepare(url: str, voters: int) -> dict[str, list[int]]:
    """The contest in its voting window, 2 x ``voters`` verified participants (half for the
    portal, half for the baseline); the nominated projects per category."""
    migrate(url)
    add_participants(url, 2 * voters, verified=True)
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    rules = {"categories": list(CATEGORIES), "category_names": CATEGORIES,
             "ballot_rule": BallotRule.ALL_CATEGORIES.value}  # fmt: skip
    projects: dict[str, list[int]] = {}
    table = Project.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Window).values(
                process_id=CONTEST, kind="voting", title="WSIS Prizes 2030",
                opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=7),
                timezone="Europe/Zurich", state="open", rules_json=json.dumps(rules), revision=0,
            )
        )  # fmt: skip
        for code in CATEGORIES:
            for j in range(PER_CATEGORY):
                values = {
                    "process_id": CONTEST, "category": code, "title": f"Project {code}-{j}",
                    "title_key": f"project {code}-{j}", "organization": "Org",
                    "country": "Chile", "description": DESCRIPTION, "owner_id": j + 1,
                    "stakeholder_type": "Academia", "submitted_at": now, "status": "nominated",
                }  # fmt: skip
                row = conn.execute(
                    table.insert().values(**values).returning(table.c.id)
                ).scalar_one()
                projects.setdefault(code, []).append(row)
    engine.dispose()
    return projects


def open_sessions(url: str, voters: int) -> list[str]:
    """A session for each of the first ``voters`` participants (their cookies)."""
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    _p = Participant.__table__  # type: ignore[attr-defined]
    _s = PortalSession.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        ids = conn.execute(sa.select(_p.c.id).order_by(_p.c.id).limit(voters)).scalars().all()
        cookies = [secrets.token_urlsafe(32) for _ in ids]
        conn.execute(
            _s.insert(),
            [
                {
                    "id_hash": stored(KEY.encode(), "session", c),
                    "participant_id": i,
                    "created_at": now,
                    "expires_at": now + BROWSER.lifetime,
                    "idle_until": now + BROWSER.idle,
                    "idle_seconds": int(BROWSER.idle.total_seconds()),
                }
                for c, i in zip(cookies, ids, strict=True)
            ],
        )
    engine.dispose()
    return cookies


@dataclass
class Timings:
    """Seconds per page and per whole ballot."""

    pages: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PAGES})
    ballots: list[float] = field(default_factory=list)


async def vote(browser: httpx.AsyncClient, cookie: str, timings: Timings) -> int:
    """One voter's ballot, from opening it to the receipt page; the votes it cast. The
    browser has no cookie but the voter's session."""
    browser.cookies.set("wsis_session", cookie)
    started = time.perf_counter()
    page = await browser.get(f"/ballot/{CONTEST}")
    timings.pages["ballot"].append(time.perf_counter() - started)
    assert page.status_code == 200, page.status_code
    csrf = CSRF.search(page.text)
    assert csrf, page.text[:200]
    offered: dict[str, list[str]] = {}
    for name, project in CHOICE.findall(page.text):
        offered.setdefault(name, []).append(project)
    form = {name: random.choice(ids) for name, ids in offered.items()}
    form["csrf"] = csrf.group(1)
    assert len(offered) == len(CATEGORIES), sorted(offered)
    step = time.perf_counter()
    review = await browser.post(f"/ballot/{CONTEST}/review", data=form)
    timings.pages["review"].append(time.perf_counter() - step)
    assert review.status_code == 200, review.status_code
    step = time.perf_counter()
    done = await browser.post(f"/ballot/{CONTEST}/confirm", data=form)
    now = time.perf_counter()
    timings.pages["confirm"].append(now - step)
    timings.ballots.append(now - started)
    assert done.status_code == 200, (done.status_code, done.text[:300])
    return len(offered)


async def through_the_portal(
    portal: str, cookies: list[str], concurrency: int
) -> tuple[float, int, Timings]:
    browsers = Browsers(portal, concurrency, timeout=120)
    timings = Timings()
    done = 0

    async def one(cookie: str) -> int:
        nonlocal done
        async with browsers.browser() as browser:
            votes = await vote(browser, cookie, timings)
        done += 1
        if done % 1000 == 0:
            print(f"    {done:>6} ballots", flush=True)
        return votes

    started = time.perf_counter()
    votes = await asyncio.gather(*(one(c) for c in cookies))
    elapsed = time.perf_counter() - started
    await browsers.aclose()
    return elapsed, sum(votes), timings


async def received(sink: asyncio.subprocess.Process, expected: int, patience: float = 600) -> int:
    """How many messages the sink has, once it has ``expected`` or stops getting more for
    ``patience`` seconds: the receipts are sent after each receipt page, a few at a time."""
    assert sink.stdin is not None and sink.stdout is not None
    count, changed = -1, time.monotonic()
    while True:
        sink.stdin.write(b"count\n")
        await sink.stdin.drain()
        now = int(await sink.stdout.readline())
        if now != count:
            count, changed = now, time.monotonic()
        if count >= expected or time.monotonic() - changed > patience:
            return count
        await asyncio.sleep(0.2)


def direct(
    url: str, projects: dict[str, list[int]], voters: range
) -> tuple[float, int, list[float]]:
    engine = create_db_engine(url, pool_size=20)
    threads = writer_for(engine)

    def one(i: int) -> float:
        ballot = [Ballot(address(i), c, random.choice(ids)) for c, ids in projects.items()]
        started = time.perf_counter()
        refused = cast_votes(CONTEST, ballot, engine)
        assert not any(refused), refused
        return time.perf_counter() - started

    started = time.perf_counter()
    with threads:
        latencies = list(threads.map(one, voters))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, len(latencies) * len(projects), latencies


def line(label: str, samples: list[float]) -> str:
    p50, p99 = percentiles(samples)
    return f"{label} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"


@contextmanager
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server (the ``pgserver`` wheel); its database's URL."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs, when XDG_RUNTIME_DIR is unset
        pgserver: Any = importlib.import_module("pgserver")
    # Not under the system's temporary tree's subfolders: as root, pgserver opens the
    # directories above its data to the unprivileged user it runs the server as.
    base = Path(tempfile.mkdtemp(prefix="wsis-bench-pg-"))
    server = pgserver.get_server(base / "pgdata", cleanup_mode="delete")
    try:
        server.psql("CREATE DATABASE wsis_bench;")
        socket_dir = server.get_postmaster_info().socket_dir
        yield f"postgresql+psycopg://postgres@/wsis_bench?host={socket_dir}"
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


async def run(
    database: str, url: str, voters: int, concurrency: int, workers: int, tmp: Path
) -> float:
    """Both runs on one database; the portal/direct ratio."""
    print(f"{database}: preparing {2 * voters} participants and their sessions", flush=True)
    projects = prepare(url, voters)
    cookies = open_sessions(url, voters)
    sink = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "devstack.catcher", "--sink", "--port", str(smtp := free_port()),
        cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert sink.stdout is not None
    assert (await sink.stdout.readline()).startswith(b"ready")
    env = {
        "WSIS_DATABASE_URL": url,
        "WSIS_SMTP_HOST": "127.0.0.1",
        "WSIS_SMTP_PORT": str(smtp),
        "WSIS_SMTP_TLS": "none",
        "WSIS_PORTAL_SECRET": KEY,
    }
    portal = PortalProcess(env, free_port(), tmp / f"portal-{database}.log", workers)
    try:
        print(f"  portal ({workers} process{'es' if workers > 1 else ''}): {voters} voters, "
              f"{concurrency} at a time", flush=True)  # fmt: skip
        cpu, ours = portal.cpu_seconds(), time.process_time()
        try:
            elapsed, votes, timings = await through_the_portal(portal.url, cookies, concurrency)
            ours = time.process_time() - ours
        except Exception:
            print(portal.tail(), file=sys.stderr)
            raise
        ballots_cpu = portal.cpu_seconds() - cpu
        last_ballot = time.perf_counter()
        receipts = await received(sink, voters)
        receipts_behind = time.perf_counter() - last_ballot
        cpu = portal.cpu_seconds() - cpu
    finally:
        portal.stop()
        sink.terminate()
        await sink.wait()
    rate = votes / elapsed
    print(
        f"  portal  {votes:>7} votes in {elapsed:6.1f} s: {rate:7.0f} votes/s "
        f"({voters / elapsed:.0f} ballots/s); portal CPU {ballots_cpu / voters * 1000:.1f} ms "
        f"a ballot, the simulated voters {ours / voters * 1000:.1f} ms"
    )
    print(f"          receipts: {receipts} of {voters} at the SMTP server, the last "
          f"{receipts_behind:.1f} s after the last ballot; portal CPU with them "
          f"{cpu / voters * 1000:.1f} ms a ballot")  # fmt: skip
    for page in PAGES:
        print(f"          {line(f'{page:<8}', timings.pages[page])}")
    print(f"          {line('ballot  ', timings.ballots)}")
    base_elapsed, base_votes, latencies = direct(url, projects, range(voters, 2 * voters))
    baseline = base_votes / base_elapsed
    print(f"  direct  {base_votes:>7} votes in {base_elapsed:6.1f} s: {baseline:7.0f} votes/s; "
          f"{line('ballot', latencies)}")  # fmt: skip
    print(f"  {database} portal/direct ratio: {rate / baseline:.2f}", flush=True)
    return rate / baseline


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voters", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--quick", action="store_true", help="5,000 voters")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--workers", type=int, default=1, help="portal processes (compose runs 2)")
    args = parser.parse_args()
    voters = 5_000 if args.quick else args.voters
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="wsis-bench-votes-") as name:
        tmp = Path(name)
        for database in args.databases.split(","):
            if database == "sqlite":
                url = f"sqlite:///{tmp / 'wsis.db'}"
                ratios.append(await run(database, url, voters, args.concurrency, args.workers, tmp))
            elif database == "postgresql":
                with postgres() as url:
                    ratios.append(
                        await run(database, url, voters, args.concurrency, args.workers, tmp)
                    )
            else:
                raise SystemExit(f"unknown database {database!r}: sqlite or postgresql")
    print(f"portal/direct ratio: {min(ratios):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
