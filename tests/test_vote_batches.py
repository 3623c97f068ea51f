"""Large vote batches: committed in chunks (the write lock is free between them), the deadline
checked per chunk, voters found whatever the Unicode form of their address, ids bounded."""

from __future__ import annotations

import sqlite3
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from activities.windows import WindowActivities
from intake.participants import import_participants
from intake.votes import VOTE_CHUNK, Ballot, cast_votes
from models.tables import Project, Vote, WindowKind
from models.wire import WindowRequest
from tests.conftest import write_people

OPENS = datetime(2030, 3, 16, tzinfo=UTC)
CLOSES = datetime(2030, 4, 15, 22, tzinfo=UTC)
DURING = OPENS + timedelta(days=1)
_project = Project.__table__  # type: ignore[attr-defined]


@pytest.fixture
def contest(engine: Engine, tmp_path: Path) -> dict[str, int]:
    """A contest in its voting window: one nominated project in C1 and one in C2, and
    1,200 registered voters (participant0@example.org ...)."""
    write_people(tmp_path / "p.csv", 1200)
    import_participants(tmp_path / "p.csv", engine, verified=True)
    (tmp_path / "jose.csv").write_text("name,email\nJosé,josé@example.org\n", encoding="utf-8")
    import_participants(tmp_path / "jose.csv", engine, verified=True)
    WindowActivities(engine).open_window(
        WindowRequest(
            process_id="p-batch",
            kind=WindowKind.VOTING.value,
            title="Test",
            opens_at=OPENS,
            closes_at=CLOSES,
            timezone="Europe/Zurich",
            rules_json='{"categories": ["C1", "C2"]}',
        )
    )
    ids = {}
    with engine.begin() as conn:
        for category in ("C1", "C2"):
            ids[category] = conn.execute(
                sa.insert(_project).values(
                    process_id="p-batch",
                    category=category,
                    title=category,
                    title_key=category.lower(),
                    description="x",
                    owner_id=1,
                    stakeholder_type="Academia",
                    country="Chile",
                    submitted_at=OPENS,
                    status="nominated",
                )
            ).inserted_primary_key[0]  # type: ignore[index]
    return ids


def ballots(ids: dict[str, int], voters: int) -> list[Ballot]:
    return [Ballot(f"participant{v}@example.org", c, ids[c]) for v in range(voters) for c in ids]


def votes(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(Vote)).scalar_one())


def test_a_batch_is_committed_in_chunks(engine: Engine, contest: dict[str, int]) -> None:
    commits: list[Any] = []
    sa.event.listen(engine, "commit", lambda conn: commits.append(conn))
    batch = ballots(contest, 1000)
    assert cast_votes("p-batch", batch, engine, now=DURING) == [None] * len(batch)
    assert len(commits) == -(-len(batch) // VOTE_CHUNK) == 4
    assert votes(engine) == 2000


def test_the_write_lock_is_free_between_chunks(
    engine: Engine, contest: dict[str, int], db_url: str
) -> None:
    """Between two chunks another writer gets the lock at once (it waits 50 ms at most)."""
    path = db_url.removeprefix("sqlite:///")
    other_writes: list[int] = []

    def clock() -> datetime:
        with sqlite3.connect(path, timeout=0.05, isolation_level=None) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE participant SET country = country WHERE id = 1")
            other.execute("COMMIT")
        other_writes.append(1)
        return DURING

    cast_votes("p-batch", ballots(contest, 1000), engine, clock=clock)
    assert len(other_writes) == 4


def test_the_deadline_is_checked_per_chunk(engine: Engine, contest: dict[str, int]) -> None:
    times = iter([DURING, CLOSES - timedelta(seconds=1), CLOSES, CLOSES + timedelta(hours=1)])
    batch = ballots(contest, 1000)
    outcomes = cast_votes("p-batch", batch, engine, clock=lambda: next(times))
    assert outcomes[: 2 * VOTE_CHUNK] == [None] * (2 * VOTE_CHUNK)  # the chunks in time stay
    late = outcomes[2 * VOTE_CHUNK :]
    assert len(late) == len(batch) - 2 * VOTE_CHUNK
    assert all(o and "closed at the deadline" in o for o in late)
    assert votes(engine) == 2 * VOTE_CHUNK


def test_voters_are_found_in_any_unicode_form(engine: Engine, contest: dict[str, int]) -> None:
    nfd = unicodedata.normalize("NFD", "José@Example.ORG")
    assert cast_votes("p-batch", [Ballot(nfd, "C1", contest["C1"])], engine, now=DURING) == [None]
    again = cast_votes(
        "p-batch", [Ballot("JOSÉ@example.org", "C1", contest["C1"])], engine, now=DURING
    )
    assert "already voted" in (again[0] or "")


def test_ids_out_of_range_are_refused_not_overflowed(
    engine: Engine, contest: dict[str, int]
) -> None:
    voter = "participant0@example.org"
    outcomes = cast_votes(
        "p-batch",
        [Ballot(voter, "C1", 10**20), Ballot(voter, "C1", -1), Ballot("x" * 10_000, "C1", 1)],
        engine,
        now=DURING,
    )
    assert outcomes[0] == f"project {10**20} is not in this contest"
    assert outcomes[1] == "project -1 is not in this contest"
    assert "not a member" in (outcomes[2] or "") and len(outcomes[2] or "") < 300
