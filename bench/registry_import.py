"""Bulk writes to the registry on SQLite, with its search index (FTS5 trigrams, migration
0009_staff) fed row by row by its triggers, against fed once per batch
(``intake.search_index.bulk_indexed``):

- a ``participants import`` of a CSV (1,000-row batches, each its own transaction), then a
  re-import of the same file (every row updated);
- the benchmarks' seed (``bench.common.add_participants``: one transaction, 20,000-row
  statements), as a registry migrated from another system would be loaded.

    .venv/bin/python -m bench.registry_import                      # 20,000 / 300,000 rows
    .venv/bin/python -m bench.registry_import --rows 100000 --seed-rows 370000

Not a test: it prints figures (the best of ``--rounds`` alternated runs of each: seconds,
rows/s, and the ratio of the two).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bench.common
import intake.participants
from core.db import create_db_engine, migrate
from tests.conftest import write_people


@contextlib.contextmanager
def by_triggers(conn: Any, emails: Any) -> Iterator[None]:
    """The index left to its triggers, one row at a time (as before ``bulk_indexed``)."""
    yield


def consistent(url: str) -> None:
    """FTS5's own check: the index matches the registry."""
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO participant_search(participant_search, rank) VALUES('integrity-check', 1)"
        )
    engine.dispose()


def imported(path: Path, url: str) -> tuple[float, ...]:
    """The import, then the same file again: seconds of each."""
    engine = create_db_engine(url)
    started = time.perf_counter()
    intake.participants.import_participants(path, engine)
    first = time.perf_counter() - started
    started = time.perf_counter()
    intake.participants.import_participants(path, engine)
    engine.dispose()
    return first, time.perf_counter() - started


def seeded(rows: int, url: str) -> tuple[float, ...]:
    started = time.perf_counter()
    bench.common.add_participants(url, rows, verified=True)
    return (time.perf_counter() - started,)


def compare(
    label: str, measure: Callable[[str], tuple[float, ...]], folder: Path, rounds: int
) -> dict[str, tuple[float, ...]]:
    """``measure`` on a fresh database, by triggers and deferred, alternated (a shared
    machine's load moves between runs); the best of each."""
    modules: list[Any] = [intake.participants, bench.common]  # their own names for it
    kept = intake.participants.bulk_indexed  # type: ignore[attr-defined]
    runs: dict[str, list[tuple[float, ...]]] = {"triggers": [], "deferred": []}
    for round_ in range(rounds):
        for name in runs:
            url = f"sqlite:///{folder / f'{label}-{name}-{round_}'}.db"
            migrate(url)
            for module in modules:
                module.bulk_indexed = by_triggers if name == "triggers" else kept
            try:
                runs[name].append(measure(url))
            finally:
                for module in modules:
                    module.bulk_indexed = kept
            consistent(url)
    return {name: tuple(map(min, zip(*found, strict=True))) for name, found in runs.items()}


def line(label: str, rows: int, slow: float, fast: float) -> str:
    return (f"  {label:<34} by triggers {slow:7.1f} s ({rows / slow:8,.0f} rows/s)   "
            f"once per batch {fast:7.1f} s ({rows / fast:8,.0f} rows/s)   "
            f"ratio {slow / fast:4.2f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the CSV import")
    parser.add_argument("--seed-rows", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_people(folder / "people.csv", args.rows)
        imports = compare(
            "import", lambda url: imported(folder / "people.csv", url), folder, args.rounds
        )
        seeds = compare("seed", lambda url: seeded(args.seed_rows, url), folder, args.rounds)
    print("The registry on SQLite, its search index fed by triggers or once per batch:")
    print(line(f"import of {args.rows:,} rows", args.rows, imports["triggers"][0],
               imports["deferred"][0]))  # fmt: skip
    print(line("re-import (every row updated)", args.rows, imports["triggers"][1],
               imports["deferred"][1]))  # fmt: skip
    print(line(f"seed of {args.seed_rows:,} rows", args.seed_rows, seeds["triggers"][0],
               seeds["deferred"][0]))  # fmt: skip


if __name__ == "__main__":
    main()
