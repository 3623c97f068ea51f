"""Country values that name no ISO 3166 country (kept as they were typed or imported), for
the Secretariat to correct: ``python -m reports.countries``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import countries
from models.tables import OcpSubmission, Participant, Project

TABLES = {
    "participant": Participant.__table__,  # type: ignore[attr-defined]
    "ocpsubmission": OcpSubmission.__table__,  # type: ignore[attr-defined]
    "project": Project.__table__,  # type: ignore[attr-defined]
}


def unmapped(engine: Engine) -> list[tuple[str, str, int]]:
    """(table, value, rows) for every country value that is not a code, largest first."""
    found = []
    with engine.connect() as conn:
        for name, table in TABLES.items():
            rows = conn.execute(
                sa.select(table.c.country, sa.func.count()).group_by(table.c.country)
            ).all()
            found += [
                (name, str(value), int(n))
                for value, n in rows
                if value and str(value) not in countries.codes()
            ]
    return sorted(found, key=lambda row: (-row[2], row[0], row[1]))


def main() -> None:
    from core.db import get_engine

    rows = unmapped(get_engine())
    for table, value, n in rows:
        print(f"{table}\t{n}\t{value}")
    if not rows:
        print("every country is an ISO 3166 code")


if __name__ == "__main__":
    main()
