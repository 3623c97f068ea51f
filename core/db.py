"""Database engine and sessions: SQLite file by default, PostgreSQL through ``DATABASE_URL``.

SQLite is tuned for many concurrent writers: WAL journal, a busy timeout, and ``BEGIN
IMMEDIATE`` on write sessions so that a check-then-write transaction (a window's deadline, a
vote's uniqueness) takes the write lock before it reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.settings import PROJECT_ROOT, get_settings

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def create_db_engine(url: str, **pool: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and IMMEDIATE writers.
    ``pool``: SQLAlchemy's pool options (``pool_size``, ``max_overflow``)."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, **pool)
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **pool)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to emit.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


@lru_cache
def _engine_for(url: str) -> Engine:
    return create_db_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """The shared engine for ``url`` (default: the configured database)."""
    return _engine_for(url or get_settings().database_url)


@contextmanager
def read_session(url: str | None = None) -> Iterator[Session]:
    """A session for reading."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(url: str | None = None) -> Iterator[Session]:
    """A session whose transaction takes the write lock first and commits on success."""
    engine = get_engine(url).execution_options(sqlite_immediate=True)
    with Session(engine, expire_on_commit=False) as session:
        yield session
        session.commit()


def migrate(url: str | None = None) -> None:
    """Bring the schema up to the newest migration (``alembic upgrade head``)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser reads "%" as interpolation: a percent-encoded password must be escaped.
    config.set_main_option(
        "sqlalchemy.url", (url or get_settings().database_url).replace("%", "%%")
    )
    config.attributes["engine"] = get_engine(url)
    command.upgrade(config, "head")
