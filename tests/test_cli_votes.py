"""The secretariat's review of a vote, as typed: counts, clusters, voiding (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from intake.casting import Evidence, cast_ballot
from models.tables import Participant, Vote
from tests.portal_flow import Contest

ROOT = Path(__file__).resolve().parent.parent


def starter(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WSIS_DATABASE_URL": db_url, "WSIS_LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "starter.py", *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip


def test_counts_clusters_and_void_from_the_command_line(
    db_url: str, engine: Engine, contest: Contest, participants: list[dict[str, str]]
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=20)
    with engine.connect() as conn:
        ids = conn.execute(sa.select(Participant.id).order_by(Participant.id)).scalars().all()  # type: ignore[call-overload]
    for i, pid in enumerate(ids[:15]):
        choices = {c: projects[0] for c, projects in contest.projects.items()}
        network = "203.0.113.0/24" if i < 11 else f"198.51.{i}.0/24"
        cast_ballot(contest.process_id, pid, choices, Evidence(network, "x"), engine,
                    now=start + timedelta(seconds=30 * i))  # fmt: skip
    counts = starter(db_url, "votes", "counts", "2030")
    assert counts.returncode == 0, counts.stderr
    assert "votes: 45 (0 voided)" in counts.stdout and "C1 15" in counts.stdout
    found = starter(db_url, "votes", "clusters", "2030", "--min-voters", "10")
    assert found.returncode == 0 and found.stdout.count("203.0.113.0/24") == 3
    bad = starter(db_url, "votes", "void", "2030", "--network", "203.0.113.0/24",
                  "--reason", "  ", "--from", "yesterday")  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    done = starter(db_url, "votes", "void", "2030", "--network", "203.0.113.0/24",
                   "--reason", "burst of new accounts")  # fmt: skip
    assert done.returncode == 0 and "33 vote(s) voided" in done.stdout
    with engine.connect() as conn:
        reasons = conn.execute(sa.select(Vote.void_reason).distinct()).scalars().all()  # type: ignore[call-overload]
    assert set(reasons) == {None, "burst of new accounts"}
    assert "votes: 12 (33 voided)" in starter(db_url, "votes", "counts", "2030").stdout
