"""Import the stakeholder registry from CSV: valid rows kept, invalid rows reported by line."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from secrets import token_urlsafe
from typing import Annotated, Any

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ValidationError, field_validator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from models.tables import Participant
from models.vocab import Language, StakeholderType

COLUMNS = ("name", "email", "organization", "country", "stakeholder_type", "language")
BATCH = 1000
_p = Participant.__table__  # type: ignore[attr-defined]


class ParticipantRow(BaseModel):
    """One registry row as the CSV gives it."""

    name: str
    email: EmailAddress
    organization: str = ""
    country: str = ""
    stakeholder_type: StakeholderType = StakeholderType.OTHER
    language: Language = Language.EN

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        v = " ".join(v.split())
        if not v:
            raise ValueError("name is empty")
        return v

    @field_validator("stakeholder_type", mode="before")
    @classmethod
    def _type(cls, v: Any) -> Any:
        return StakeholderType.OTHER if v in (None, "") else StakeholderType.parse(str(v))

    @field_validator("language", mode="before")
    @classmethod
    def _language(cls, v: Any) -> Any:
        if v in (None, ""):
            return Language.EN
        code = str(v).strip().lower()[:2]
        if code not in {lang.value for lang in Language}:
            allowed = ", ".join(lang.value for lang in Language)
            raise ValueError(f"unknown language {v!r} (one of: {allowed})")
        return code


def normalize_email(value: str) -> str:
    """A deliverable-looking address, normalized; ``ValueError`` with the reason otherwise."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(f"invalid e-mail address {value!r}: {exc}") from None


def _required(value: str) -> str:
    if not value.strip():
        raise ValueError("is required")
    return value.strip()


# The field types every intake form shares.
RequiredText = Annotated[str, AfterValidator(_required)]
EmailAddress = Annotated[str, AfterValidator(normalize_email)]


@dataclass
class ImportReport:
    """What an import did: counts, and each refused row with its line number and reason."""

    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def accepted(self) -> int:
        return self.created + self.updated


def _reason(exc: ValidationError) -> str:
    parts = []
    for e in exc.errors():
        field_name = ".".join(str(x) for x in e["loc"])
        msg = str(e["ctx"]["error"]) if "ctx" in e and "error" in e["ctx"] else e["msg"]
        parts.append(f"{field_name}: {msg}")
    return "; ".join(parts)


def read_rows(path: Path) -> Iterator[tuple[int, ParticipantRow | str]]:
    """(line number, row or reason) for every data line of the CSV file."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("name", "email") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{path}: the header must name the columns {', '.join(COLUMNS)} "
                f"(missing: {', '.join(missing)})"
            )
        for record in reader:
            line = reader.line_num
            data = {k: (v or "").strip() for k, v in record.items() if k in COLUMNS}
            try:
                yield line, ParticipantRow.model_validate(data)
            except ValidationError as exc:
                yield line, _reason(exc)


def _upsert(engine: Engine, rows: list[ParticipantRow]) -> tuple[int, int]:
    now = datetime.now(UTC)
    insert: Any = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(_p)
    values = [{**r.model_dump(mode="json"), "created_at": now, "updated_at": now} for r in rows]
    for v in values:
        v["unsubscribe_token"] = token_urlsafe(18)
        v["unsubscribed"] = False
    stmt = insert.values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_p.c.email],
        set_={
            c: stmt.excluded[c]
            for c in (
                "name",
                "organization",
                "country",
                "stakeholder_type",
                "language",
                "updated_at",
            )
        },
    )
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        emails = [r.email for r in rows]
        existing = conn.execute(
            sa.select(sa.func.count()).where(_p.c.email.in_(emails))
        ).scalar_one()
        conn.execute(stmt)
    return len(rows) - existing, existing


def import_participants(
    path: str | Path, engine: Engine, *, progress: Callable[[int], None] | None = None
) -> ImportReport:
    """Load ``path`` into the registry; re-importing an address updates it, never duplicates."""
    report = ImportReport()
    batch: dict[str, ParticipantRow] = {}

    def flush() -> None:
        if batch:
            created, updated = _upsert(engine, list(batch.values()))
            report.created += created
            report.updated += updated
            batch.clear()
            if progress:
                progress(report.accepted)

    for line, row in read_rows(Path(path)):
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
    """The secretariat receives the engine's notices: make sure it is a known recipient."""
    now = datetime.now(UTC)
    insert: Any = (postgresql if engine.dialect.name == "postgresql" else sqlite).insert(_p)
    with engine.connect().execution_options(sqlite_immediate=True) as conn, conn.begin():
        conn.execute(
            insert.values(
                email=email.lower(),
                name="WSIS Secretariat",
                organization="ITU",
                country="Switzerland",
                stakeholder_type=StakeholderType.INTERNATIONAL_ORGANIZATION.value,
                language=Language.EN.value,
                unsubscribed=False,
                unsubscribe_token=token_urlsafe(18),
                created_at=now,
                updated_at=now,
            ).on_conflict_do_nothing(index_elements=[_p.c.email])
        )
