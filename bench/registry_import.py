"""A bulk load of the registry on SQLite, with its search index (FTS5 trigrams, migration
0009_staff) fed row by row by its triggers, against fed once per batch
(``intake.search_index.bulk_indexed``, what the import and the benchmarks' seed do): the
``participants import`` of a CSV, then a re-import of the same file (every row updated).

    .venv/bin/python -m bench.registry_import              # 100,000 rows
    .venv/bin/python -m bench.registry_import --rows 370000

Not a test: it prints figures (seconds, rows/s, and the ratio of the two).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import intake.participants
from core.db import create_db_engine, migrate
from tests.conftest import write_people


@contextlib.contextmanager
def by_triggers(conn: Any, emails: Any) -> Iterator[None]:
    """The index left to its triggers, one row at a time (as before ``bulk_indexed``)."""
    yield


def timed(path: Path, folder: Path, name: str) -> tuple[float, float]:
    """A fresh database: the import, then the same file again; seconds of each."""
    url = f"sqlite:///{folder / name}.db"
    migrate(url)
    engine = create_db_engine(url)
    started = time.perf_counter()
    intake.participants.import_participants(path, engine)
    first = time.perf_counter() - started
    started = time.perf_counter()
    intake.participants.import_participants(path, engine)
    again = time.perf_counter() - started
    with engine.begin() as conn:  # FTS5's own check: the index matches the registry
        conn.exec_driver_sql(
            "INSERT INTO participant_search(participant_search, rank) VALUES('integrity-check', 1)"
        )
    engine.dispose()
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_people(folder / "people.csv", args.rows)
        deferred = timed(folder / "people.csv", folder, "deferred")
        module: Any = intake.participants  # the import's own name for it, swapped for a run
        kept = module.bulk_indexed
        module.bulk_indexed = by_triggers
        try:
            triggered = timed(folder / "people.csv", folder, "triggers")
        finally:
            module.bulk_indexed = kept
    print(f"participants import of {args.rows:,} rows on SQLite, search index:")
    for label, index in (("import", 0), ("re-import (every row updated)", 1)):
        slow, fast = triggered[index], deferred[index]
        print(f"  {label:<30} by triggers {slow:7.1f} s ({args.rows / slow:8,.0f} rows/s)   "
              f"once per batch {fast:7.1f} s ({args.rows / fast:8,.0f} rows/s)   "
              f"ratio {slow / fast:4.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
