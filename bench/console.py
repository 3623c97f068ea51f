"""The secretariat's console at scale: 300,000 participants, 50,000 official submissions and
20,000 projects; every list page, search, filter, deep page and detail page through the
portal in its own process (p50/p99 each), and exports: rows/s, and the peak memory of a
process that streams the 300,000-participant export (it must stay under 256 MiB).

    .venv/bin/python -m bench.console                 # SQLite
    .venv/bin/python -m bench.console --postgres      # also PostgreSQL (pgserver)
    .venv/bin/python -m bench.console --skip-sqlite --postgres-bin /usr/lib/postgresql/15/bin
                                    # an installed PostgreSQL (with pg_trgm), against the
                                    # last SQLite run's figures (var/bench/console-sqlite.json)
    .venv/bin/python -m bench.console --quick         # 30,000 / 5,000 / 2,000

Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from bench.common import ROOT, PortalProcess, add_participants, free_port, percentiles
from core.db import create_db_engine, migrate
from devstack.postgres import installed_postgres
from models.tables import OcpSubmission, Project
from services import staff

_o = OcpSubmission.__table__  # type: ignore[attr-defined]
_j = Project.__table__  # type: ignore[attr-defined]
COUNTRIES = ["Kenya", "Chile", "Japan", "Senegal", "Brazil", "India", "Germany", "Lebanon"]
KINDS = ["Government", "Academia", "Civil Society", "Private Sector", "Other"]
LIMIT_MIB = 256


# The portal's secret in this benchmark: its staff session is stored keyed by it.
SECRET = "bench"


def seed(url: str, people: int, submissions: int, projects: int) -> None:
    """The registry, the submissions and the projects, in large batches."""
    migrate(url)
    add_participants(url, people, verified=True)
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    proposal = "More remote participation, a youth track and regional sessions. " * 4
    with engine.begin() as conn:
        for start in range(0, submissions, 10_000):
            conn.execute(_o.insert(), [
                {"process_id": "wsis-2030-ocp", "participant_id": i + 1,
                 "full_name": f"Submitter {i}", "email": f"participant{i}@example.org",
                 "organization": f"Organisation {i % 997}", "country": COUNTRIES[i % 8],
                 "telephone": None, "stakeholder_type": KINDS[i % 5], "proposal": proposal,
                 "submitted_at": now - timedelta(seconds=i)}
                for i in range(start, min(start + 10_000, submissions))
            ])  # fmt: skip
        for start in range(0, projects, 10_000):
            conn.execute(_j.insert(), [
                {"process_id": "wsis-2030-prizes", "category": f"C{1 + i % 11}",
                 "title": f"Project {i}", "title_key": f"project {i}", "description": proposal,
                 "owner_id": i + 1, "organization": f"Organisation {i % 997}",
                 "stakeholder_type": KINDS[i % 5], "country": COUNTRIES[i % 8],
                 "submitted_at": now - timedelta(seconds=i), "status": "submitted",
                 "shortlisted": False, "winner": False}
                for i in range(start, min(start + 10_000, projects))
            ])  # fmt: skip
    member = staff.add(engine, "bench@itu.int", "secretariat", actor="bench")
    session = staff.open_session(engine, member.id, SECRET.encode())
    staff.second_factor_given(engine, session, SECRET.encode())
    (Path(tempfile.gettempdir()) / "wsis-bench-console-session").write_text(session)
    engine.dispose()


PAGES = [
    ("participants, first page", "/staff/participants"),
    ("participants, search 'Kaya 1234'", "/staff/participants?q=Kaya+1234"),
    ("participants, search 'müller'", "/staff/participants?q=m%C3%BCller"),
    ("participants, sorted by name", "/staff/participants?sort=name&order=asc"),
    ("participants, language filter", "/staff/participants?language=ar"),
    ("submissions, first page", "/staff/submissions"),
    ("submissions, country filter", "/staff/submissions?country=Kenya&sort=full_name"),
    ("projects, category filter", "/staff/projects?category=C4"),
    ("participant detail", "/staff/participants/{middle}"),
]


async def pages(url: str, session: str, rounds: int, people: int) -> dict[str, list[float]]:
    """Each page ``rounds`` times, one at a time; and the 100th page of participants,
    reached by following 'Next page' (keyset: page 100 costs what page 1 does)."""
    timings: dict[str, list[float]] = {label: [] for label, _ in PAGES}
    timings["participants, page 100 (keyset)"] = []
    async with httpx.AsyncClient(base_url=url, cookies={"wsis_staff": session},
                                 timeout=120, trust_env=False) as client:  # fmt: skip
        for label, template in PAGES:
            path = template.format(middle=people // 2)
            await client.get(path)  # warm
            for _ in range(rounds):
                started = time.perf_counter()
                response = await client.get(path)
                timings[label].append(time.perf_counter() - started)
                assert response.status_code == 200, (path, response.status_code)
        path = "/staff/participants"
        for _ in range(100):
            started = time.perf_counter()
            html = (await client.get(path)).text
            timings["participants, page 100 (keyset)"].append(time.perf_counter() - started)
            found = re.search(r'href="(/staff/participants\?[^"]*after=[^"]+)" rel="next"', html)
            assert found, f"no next page after {path}"
            path = found.group(1).replace("&amp;", "&")
    timings["participants, page 100 (keyset)"] = timings["participants, page 100 (keyset)"][-1:]
    return timings


EXPORT = """
import json, resource, sys, time
from pathlib import Path
from services.database import ready_engine
from services.exports import export
from services.lists import Query
kind, fmt, url = sys.argv[1:4]
started = time.perf_counter()
size = 0
with open("/dev/null", "wb") as out:
    for chunk in export(ready_engine(url), Query(kind), fmt):
        size += out.write(chunk)
print(json.dumps({"seconds": time.perf_counter() - started, "bytes": size,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def export_run(url: str, kind: str, fmt: str) -> dict[str, float]:
    """One export in a process of its own: its time and its peak memory (RSS)."""
    run = subprocess.run(
        [sys.executable, "-c", EXPORT, kind, fmt, url], cwd=ROOT, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    found: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return found


async def through_http(url: str, session: str) -> tuple[float, int]:
    """The 300,000-participant CSV through the portal: seconds and bytes."""
    started = time.perf_counter()
    size = 0
    async with httpx.AsyncClient(base_url=url, cookies={"wsis_staff": session}, timeout=600,
                                 trust_env=False) as client, client.stream(
        "GET", "/staff/participants/export.csv"
    ) as response:  # fmt: skip
        async for chunk in response.aiter_bytes():
            size += len(chunk)
    return time.perf_counter() - started, size


def run(
    database: str, url: str, people: int, submissions: int, projects: int, rounds: int
) -> dict[str, float]:
    """Seed, then measure; the figures by label (page p50s in ms, exports in rows/s)."""
    print(f"{database}: seeding {people:,} participants, {submissions:,} submissions, "
          f"{projects:,} projects", flush=True)  # fmt: skip
    started = time.perf_counter()
    seed(url, people, submissions, projects)
    print(f"  seeded in {time.perf_counter() - started:.1f} s", flush=True)
    if url.startswith("postgresql"):
        print(f"  {trigram_state(url)}", flush=True)
    session = (Path(tempfile.gettempdir()) / "wsis-bench-console-session").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        portal = PortalProcess({"DATABASE_URL": url, "WSIS_PORTAL_SECRET": SECRET},
                               free_port(), Path(tmp) / "portal.log")  # fmt: skip
        try:
            timings = asyncio.run(pages(portal.url, session, rounds, people))
            seconds, size = asyncio.run(through_http(portal.url, session))
        finally:
            portal.stop()
    figures: dict[str, float] = {}
    print(f"  pages through the portal ({rounds} requests each, one at a time):")
    for label, samples in timings.items():
        p50, p99 = percentiles(samples)
        figures[f"{label} p50 ms"] = p50
        print(f"    {label:<36} p50 {p50:7.1f} ms  p99 {p99:7.1f} ms")
    figures["participants CSV through the portal rows/s"] = people / seconds
    print(f"  participants CSV through the portal: {people / seconds:,.0f} rows/s "
          f"({size / 2**20:.1f} MiB in {seconds:.1f} s)")  # fmt: skip
    for kind, rows in (("participants", people), ("submissions", submissions)):
        for fmt in ("csv", "xlsx"):
            found = export_run(url, kind, fmt)
            ok = "under" if found["peak_mib"] < LIMIT_MIB else "OVER"
            figures[f"export {kind} {fmt} rows/s"] = rows / found["seconds"]
            print(f"  export {kind} {fmt:<4} {rows / found['seconds']:>9,.0f} rows/s  "
                  f"{found['bytes'] / 2**20:6.1f} MiB  peak RSS {found['peak_mib']:.0f} MiB "
                  f"({ok} {LIMIT_MIB} MiB)", flush=True)  # fmt: skip
    return figures


def trigram_state(url: str) -> str:
    """Whether the registry's trigram indexes (migration 0012_registry_trigram) are there."""
    engine = create_db_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # What autovacuum does soon after a bulk load: the planner's statistics, and the GIN
        # indexes' pending entries merged (until then a search reads them one by one).
        conn.exec_driver_sql("VACUUM ANALYZE")
        found = conn.execute(
            sa.text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'participant_%_trgm'")
        ).scalar_one()
        version = conn.execute(sa.text("SHOW server_version")).scalar_one()
    engine.dispose()
    if found:
        return f"PostgreSQL {version}: pg_trgm indexes on the registry ({found})"
    return f"PostgreSQL {version}: no pg_trgm on this server: participant search is a scan"


# The baseline a PostgreSQL run is compared with: SQLite's figures, from this run or, when
# SQLite is skipped, as the last SQLite run saved them.
BASELINE = ROOT / "var" / "bench" / "console-sqlite.json"


def compare(database: str, figures: dict[str, float], baseline: dict[str, float]) -> None:
    """Each figure beside SQLite's, and their ratio (a time: >1 is slower than SQLite; a
    rate: >1 is faster)."""
    print(f"{database} against the baseline (SQLite, {BASELINE.relative_to(ROOT)}):")
    for label, value in figures.items():
        if baseline.get(label):
            print(f"    {label:<52} {value:>10,.1f}  SQLite {baseline[label]:>10,.1f}  "
                  f"ratio {value / baseline[label]:5.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL (pgserver)")
    parser.add_argument(
        "--postgres-bin", type=Path, metavar="DIR",
        help="also on an installed PostgreSQL (its bin/, e.g. /usr/lib/postgresql/15/bin)",
    )  # fmt: skip
    parser.add_argument("--skip-sqlite", action="store_true", help="compare with the saved run")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    people, submissions, projects = (
        (30_000, 5_000, 2_000) if args.quick else (300_000, 50_000, 20_000)
    )
    sizes = (people, submissions, projects, args.rounds)
    if args.skip_sqlite:
        baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    else:
        with tempfile.TemporaryDirectory() as tmp:
            baseline = run("SQLite", f"sqlite:///{tmp}/console.db", *sizes)
        if not args.quick:
            BASELINE.parent.mkdir(parents=True, exist_ok=True)
            BASELINE.write_text(json.dumps(baseline, indent=1))
    if args.postgres:
        from bench.portal_votes import postgres

        with postgres() as url:
            compare("PostgreSQL (pgserver)", run("PostgreSQL", url, *sizes), baseline)
    if args.postgres_bin:
        with installed_postgres(args.postgres_bin, "wsis_bench") as url:
            compare("PostgreSQL (installed)", run("PostgreSQL", url, *sizes), baseline)
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"(max RSS of this driver: {driver} MiB)")


if __name__ == "__main__":
    main()
