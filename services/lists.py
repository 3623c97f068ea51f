"""The lists the console shows and exports: participants, official submissions, projects.

Search (a few characters, anywhere in the name, organisation, address or title), filters,
sorting, and keyset pagination (``after`` is the last row's sort value and id: a page costs
the same on page 1 and page 6,000). An export is the same query read to its end in batches.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import get_settings
from models.tables import OcpSubmission, Participant, Project, UTCDateTime
from reports.status import not_secretariat

_p = Participant.__table__  # type: ignore[attr-defined]
_o = OcpSubmission.__table__  # type: ignore[attr-defined]
_j = Project.__table__  # type: ignore[attr-defined]
PAGE = 50
_SEARCH = sa.text(
    "SELECT rowid FROM participant_search WHERE participant_search MATCH :phrase"
).columns(sa.column("rowid", sa.Integer))


@dataclass(frozen=True)
class Kind:
    """One list: its table, the columns it shows and exports, what it searches, filters and
    sorts by (the first sort is the default)."""

    name: str
    table: sa.Table
    columns: tuple[str, ...]
    search: tuple[str, ...]
    filters: tuple[str, ...]
    sorts: tuple[str, ...]  # the first, the default, is the id: the order rows came in


KINDS: Mapping[str, Kind] = {
    "participants": Kind(
        "participants", _p,
        ("id", "name", "email", "organization", "country", "stakeholder_type", "language",
         "verified_at", "unsubscribed", "created_at"),
        ("name", "email", "organization"),
        ("country", "stakeholder_type", "language"),
        ("id", "name", "country", "created_at"),
    ),
    "submissions": Kind(
        "submissions", _o,
        ("id", "process_id", "full_name", "email", "organization", "country", "telephone",
         "stakeholder_type", "proposal", "submitted_at"),
        ("full_name", "email", "organization"),
        ("process_id", "country", "stakeholder_type"),
        ("id", "full_name", "country", "submitted_at"),
    ),
    "projects": Kind(
        "projects", _j,
        ("id", "process_id", "category", "title", "organization", "country", "stakeholder_type",
         "status", "reason", "description", "submitted_at"),
        ("title", "organization"),
        ("process_id", "category", "status", "stakeholder_type", "country"),
        ("id", "title", "category", "status", "submitted_at"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Query:
    """What a person asked of a list (from the page's query string or the CLI's options)."""

    kind: str
    q: str = ""
    filters: dict[str, str] = field(default_factory=dict)
    sort: str = ""
    descending: bool = True
    after: str = ""  # the cursor of the previous page's last row


def cursor(value: Any, row_id: int) -> str:
    """The opaque cursor after a row: its sort value and id."""
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(text: str, column: sa.Column[Any]) -> tuple[Any, int] | None:
    """The sort value and id in a cursor, or None for one that is not ours (a visitor may
    type anything into the address bar)."""
    try:
        value, row_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if isinstance(column.type, UTCDateTime | sa.DateTime):
            value = datetime.fromisoformat(value)
            if value.tzinfo is None:
                return None
        elif not isinstance(value, str | int | float) or isinstance(value, bool):
            return None
        return value, int(row_id)
    except (ValueError, TypeError, UnicodeDecodeError):
        return None


def _select(query: Query, dialect: str) -> tuple[Kind, sa.Select[Any], sa.Column[Any]]:
    kind = KINDS[query.kind]
    t = kind.table
    stmt = sa.select(*(t.c[c] for c in kind.columns))
    if kind.name == "participants":  # the secretariat's own row is no participant
        stmt = stmt.where(not_secretariat(get_settings().secretariat_email))
    if text := query.q.strip()[:100]:
        if "@" in text and "email" in t.c:  # an address: the unique index answers at once
            stmt = stmt.where(t.c.email == text.lower())
        elif dialect == "sqlite" and kind.name == "participants" and len(text) >= 3:
            # The trigram index (migration 0009_staff): any three characters, anywhere.
            phrase = '"' + text.replace('"', '""') + '"'
            stmt = stmt.where(t.c.id.in_(_SEARCH.bindparams(phrase=phrase)))
        else:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            # SQLite's LIKE ignores ASCII case by itself; lower() on every row costs more.
            sqlite = dialect == "sqlite"
            match = [
                t.c[c].like(pattern, escape="\\") if sqlite else t.c[c].ilike(pattern, escape="\\")
                for c in kind.search
            ]
            stmt = stmt.where(sa.or_(*match))
    for name, value in query.filters.items():
        if name in kind.filters and value:
            stmt = stmt.where(t.c[name] == value)
    sort = t.c[query.sort if query.sort in kind.sorts else kind.sorts[0]]
    return kind, stmt, sort


def rows_after(engine: Engine, query: Query, *, limit: int = PAGE) -> tuple[list[sa.Row[Any]], str]:
    """One page of the list as rows (the kind's columns, in order) and the cursor of the
    next ("" on the last page)."""
    kind, stmt, sort = _select(query, engine.dialect.name)
    ident = kind.table.c.id
    if query.after and (found := _uncursor(query.after, sort)) is not None:
        value, row_id = found
        if query.descending:
            stmt = stmt.where(sa.or_(sort < value, sa.and_(sort == value, ident < row_id)))
        else:
            stmt = stmt.where(sa.or_(sort > value, sa.and_(sort == value, ident > row_id)))
    order = (sort.desc(), ident.desc()) if query.descending else (sort.asc(), ident.asc())
    with engine.connect() as conn:
        rows = list(conn.execute(stmt.order_by(*order).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, ""
    last = rows[limit - 1]._mapping
    return rows[:limit], cursor(last[sort.name], last["id"])


def page(engine: Engine, query: Query, *, limit: int = PAGE) -> tuple[list[dict[str, Any]], str]:
    """One page of the list (each row a dict) and the cursor of the next page."""
    rows, after = rows_after(engine, query, limit=limit)
    return [dict(r._mapping) for r in rows], after


def every_row(engine: Engine, query: Query, *, batch: int = 5000) -> Iterator[sa.Row[Any]]:
    """Every row the list shows (the kind's columns, in order), read ``batch`` rows at a
    time: an export of 300,000 rows never holds them all."""
    after = query.after
    while True:
        rows, after = rows_after(
            engine,
            Query(query.kind, query.q, query.filters, query.sort, query.descending, after),
            limit=batch,
        )
        yield from rows
        if not after:
            return


def detail(engine: Engine, kind: str, row_id: int) -> dict[str, Any] | None:
    """One row with every column (a detail page)."""
    table = KINDS[kind].table
    with engine.connect() as conn:
        row = conn.execute(sa.select(table).where(table.c.id == row_id)).first()
    return dict(row._mapping) if row else None


def choices(engine: Engine, kind: str, column: str) -> list[str]:
    """The values a filter offers (distinct, sorted; at most 300)."""
    table = KINDS[kind].table
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(table.c[column]).distinct().order_by(table.c[column]).limit(300)
        ).scalars()
        return [str(v) for v in found if v not in (None, "")]
