"""The registry's search index on SQLite (FTS5 trigrams, migration 0009_staff) after bulk
imports, which feed it once per batch instead of row by row (``intake.search_index``): it
matches the registry exactly (FTS5's own integrity check), finds new and changed people and
no longer finds what they were, and the triggers that keep it in step afterwards are back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError

from intake.participants import import_participants
from intake.search_index import bulk_indexed
from services.lists import Query, page
from tests.conftest import write_people

FEEDERS = {"participant_search_insert", "participant_search_update", "participant_search_delete"}


def found(engine: Engine, text: str) -> list[str]:
    rows, _ = page(engine, Query("participants", q=text))
    return sorted(r["name"] for r in rows)


def consistent(engine: Engine) -> None:
    """FTS5's integrity check: the index holds exactly the registry's current values."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO participant_search(participant_search, rank) VALUES('integrity-check', 1)"
        )


def triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        return {str(n) for n in names.scalars()} & FEEDERS


def test_a_bulk_import_keeps_the_search_index_exact(tmp_path: Path, engine: Engine) -> None:
    people = write_people(tmp_path / "people.csv", 2500)  # three batches of the import
    report = import_participants(tmp_path / "people.csv", engine)
    assert report.created == 2500 and not report.errors
    consistent(engine)
    assert found(engine, "Kaya 1234") == ["Elif Kaya 1234"]
    assert found(engine, "participant2499.") == []  # "." is no part of it
    assert found(engine, "participant2499") == ["Julia Müller 2499"]
    assert triggers(engine) == FEEDERS

    # A re-import changes names and organisations (and adds one): the index follows them.
    changed = tmp_path / "changed.csv"
    lines = (tmp_path / "people.csv").read_text(encoding="utf-8").splitlines()
    lines = [lines[0]] + [
        line.replace("Elif Kaya", "Elif Yilmaz").replace("TelcoCorp", "Anadolu Telekom")
        for line in lines[1:]
    ]
    lines.append("Zeynep Demir,zeynep@example.org,Anadolu Telekom,Türkiye,Private Sector,en")
    changed.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_participants(changed, engine)
    assert (report.created, report.updated) == (1, 2500)
    consistent(engine)
    assert found(engine, "Kaya 1234") == []
    assert found(engine, "Yilmaz 1234") == ["Elif Yilmaz 1234"]
    assert len(found(engine, "anadolu")) == 50  # a page: 250 Elifs and Zeynep match
    assert found(engine, "Zeynep") == ["Zeynep Demir"]
    # After the import, a single change is indexed by the triggers again.
    assert triggers(engine) == FEEDERS
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE participant SET name = 'Ayşe Kaya' WHERE email = :e"),
            {"e": people[4]["email"]},
        )
    consistent(engine)
    assert found(engine, "Ayşe") == ["Ayşe Kaya"]


def test_a_failed_batch_leaves_the_triggers_and_the_index_as_they_were(
    tmp_path: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_people(tmp_path / "people.csv", 10)
    import_participants(tmp_path / "people.csv", engine)

    @contextmanager
    def failing(conn: sa.Connection, emails: Sequence[str]) -> Iterator[None]:
        with bulk_indexed(conn, emails):
            yield
            raise DatabaseError("INSERT", {}, Exception("the disk is full"))

    monkeypatch.setattr("intake.participants.bulk_indexed", failing)
    write_people(tmp_path / "more.csv", 20)
    with pytest.raises(DatabaseError):
        import_participants(tmp_path / "more.csv", engine)
    assert triggers(engine) == FEEDERS
    consistent(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM participant").scalar() == 10
