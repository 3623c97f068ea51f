"""What every table shares: UTC datetimes on every backend, and now.

Times are stored as UTC (naive in the column, made aware again on the way out) so that SQLite
and PostgreSQL behave the same.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware datetimes in, UTC-aware datetimes out, on every backend."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    """Now, aware, in UTC (outside workflows only)."""
    return datetime.now(UTC)


def new_token() -> str:
    """A random value nobody is given (``participant.unsubscribe_legacy`` of a new row)."""
    return secrets.token_urlsafe(18)


def utc_column(**kw: Any) -> Any:
    return sa.Column(UTCDateTime(), **kw)
