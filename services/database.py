"""The database the operations work on, its schema known to be current.

A command on a database with no schema yet (a fresh SQLite file, an empty PostgreSQL
database) applies the migrations itself: nothing can be lost. A schema that exists but lags
behind the code is not upgraded behind the operator's back: the refusal says what to run.
"""

from __future__ import annotations

from functools import lru_cache

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from core.db import MIGRATIONS_DIR, get_engine, migrate
from services.errors import Refused

UPGRADE = "python starter.py db upgrade"


@lru_cache
def head_revisions() -> frozenset[str]:
    """The newest migration(s) this code knows."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    """The migration(s) the database is at (empty: no schema)."""
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def ready_engine(url: str | None = None) -> Engine:
    """The engine for ``url`` (default: the configured database), with a current schema.

    No schema: the migrations are applied. An older one: ``Refused``, naming what to run.
    """
    engine = get_engine(url)
    current = current_revisions(engine)
    if not current:
        migrate(url)
    elif current != head_revisions():
        raise Refused(
            f"the database schema is at {', '.join(sorted(current))}, this version needs "
            f"{', '.join(sorted(head_revisions()))}: run `{UPGRADE}` first"
        )
    return engine
