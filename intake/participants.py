"""Import the stakeholder registry from CSV: valid rows kept, invalid rows reported by line."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ValidationError, field_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from intake.csvfile import Columns, CsvProblem, CsvTable, read_csv
from intake.fields import (
    EmailAddress,
    Name,
    OptionalCountry,
    Organization,
    RequiredText,
    normalize_email,
    reasons,
)
from intake.search_index import bulk_indexed
from models.tables import Participant
from models.text import normalize_address
from models.vocab import Language, StakeholderType

COLUMNS = Columns(
    required=("name", "email"),
    optional=("organization", "country", "stakeholder_type", "language", "verified"),
    aliases={"organisation": "organization", "e-mail": "email"},
)
BATCH = 1000
_p = Participant.__table__  # type: ignore[attr-defined]
_YES = {"yes", "y", "true", "1", "x", "verified"}
_NO = {"", "no", "n", "false", "0"}


class ParticipantRow(BaseModel):
    """One registry row as the CSV gives it."""

    name: Name
    email: EmailAddress
    organization: Organization = ""
    country: OptionalCountry = ""
    stakeholder_type: StakeholderType = StakeholderType.OTHER
    language: Language = Language.EN
    verified: bool = False  # the secretariat vouches for this person

    @field_validator("stakeholder_type", mode="before")
    @classmethod
    def _type(cls, v: Any) -> Any:
        blank = v is None or (isinstance(v, str) and not v.strip())
        return StakeholderType.OTHER if blank else StakeholderType.parse(str(v))

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, v: Any) -> Any:
        if v is None or (isinstance(v, str) and not v.strip()):
            return Language.EN
        code = str(v).strip().lower()[:2]
        if code not in {lang.value for lang in Language}:
            allowed = ", ".join(lang.value for lang in Language)
            shown = str(v)[:60]
            raise ValueError(f"unknown language {shown!r} (one of: {allowed})")
        return code

    @field_validator("verified", mode="before")
    @classmethod
    def _verified(cls, v: Any) -> Any:
        if isinstance(v, str):
            word = v.strip().lower()
            if word not in _YES | _NO:
                raise ValueError(f"{v[:20]!r} is not yes or no")
            return word in _YES
        return v


@dataclass
class ImportReport:
    """What an import did: counts, and each refused row with its line number and reason."""

    created: int = 0
    updated: int = 0
    verified: int = 0  # rows the import vouched for
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.created + self.updated


def read_rows(
    path: Path, *, smtp_utf8: bool | None = None
) -> Iterator[tuple[int, ParticipantRow | str]]:
    """(line number, row or reason) for every data line of the CSV file.

    The header is checked before the first row is yielded: ``FileRefused`` (nothing read)
    for a file that cannot be the registry.
    """
    table = read_csv(path, COLUMNS)
    context = {"smtp_utf8": smtp_utf8}
    return _rows(table, context)


def _rows(table: CsvTable, context: dict[str, Any]) -> Iterator[tuple[int, ParticipantRow | str]]:
    for item in table:
        if isinstance(item, CsvProblem):
            yield item.line, item.reason
            continue
        try:
            yield item.line, ParticipantRow.model_validate(item.fields, context=context)
        except ValidationError as exc:
            yield item.line, reasons(exc)


def _upsert(engine: Engine, rows: list[ParticipantRow], *, vouch: bool) -> tuple[int, int]:
    now = datetime.now(UTC)
    insert: Any = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(_p)
    values = []
    for r in rows:
        v = r.model_dump(mode="json", exclude={"verified"})
        v.update(
            created_at=now,
            updated_at=now,
            verified_at=now if vouch or r.verified else None,
            unsubscribe_legacy=token_urlsafe(18),
            unsubscribed=False,
        )
        values.append(v)
    stmt = insert.values(values)
    updates = {
        c: stmt.excluded[c]
        for c in ("name", "organization", "country", "stakeholder_type", "language", "updated_at")
    }
    # An import vouches; it never withdraws a verification, and the first one is kept.
    updates["verified_at"] = sa.func.coalesce(_p.c.verified_at, stmt.excluded.verified_at)
    stmt = stmt.on_conflict_do_update(index_elements=[_p.c.email], set_=updates)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        emails = [r.email for r in rows]
        existing = conn.execute(
            sa.select(sa.func.count()).where(_p.c.email.in_(emails))
        ).scalar_one()
        with bulk_indexed(conn, emails):  # the search index fed once for the batch
            conn.execute(stmt)
    return len(rows) - existing, existing


def import_participants(
    path: str | Path,
    engine: Engine,
    *,
    verified: bool = False,
    smtp_utf8: bool | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Load ``path`` into the registry; re-importing an address updates it, never duplicates.

    Every good line is kept and every bad one reported with its line number, wherever it
    is in the file. ``FileRefused`` before anything is written for a file that cannot be
    the registry (not a regular file, too large, a wrong header). ``verified``: the
    secretariat vouches for every row (a ``verified`` column does it row by row).
    ``smtp_utf8``: whether non-ASCII addresses are accepted (default: the setting).
    """
    report = ImportReport()
    batch: dict[str, ParticipantRow] = {}

    def flush() -> None:
        if batch:
            created, updated = _upsert(engine, list(batch.values()), vouch=verified)
            report.created += created
            report.updated += updated
            report.verified += sum(1 for r in batch.values() if verified or r.verified)
            batch.clear()
            if progress:
                progress(report.accepted)

    for line, row in read_rows(Path(path), smtp_utf8=smtp_utf8):
        if isinstance(row, str):
            report.errors.append((line, row))
            continue
        if row.email in batch:  # the same address twice in one file: the later line wins
            report.updated += 1
        batch[row.email] = row
        if len(batch) >= BATCH:
            flush()
    flush()
    return report


def ensure_secretariat(engine: Engine, email: str) -> None:
    """The secretariat receives the engine's notices: make sure it is a known recipient.
    It is no participant: its row takes no bulk announcement (unsubscribed) and is left out
    of every count (``reports.status.not_secretariat``)."""
    now = datetime.now(UTC)
    insert: Any = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(_p)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(
            insert.values(
                email=normalize_address(email).lower(),
                name="WSIS Secretariat",
                organization="ITU",
                country="Switzerland",
                stakeholder_type=StakeholderType.INTERNATIONAL_ORGANIZATION.value,
                language=Language.EN.value,
                unsubscribed=True,
                unsubscribe_legacy=token_urlsafe(18),
                created_at=now,
                updated_at=now,
            ).on_conflict_do_nothing(index_elements=[_p.c.email])
        )


# The field types first defined here, for the modules that import them from here.
__all__ = [
    "COLUMNS",
    "EmailAddress",
    "ImportReport",
    "ParticipantRow",
    "RequiredText",
    "ensure_secretariat",
    "import_participants",
    "normalize_email",
    "read_rows",
]
