"""The console's participant search on PostgreSQL (migration 0012_registry_trigram): with
``pg_trgm`` the search the console issues is answered from trigram indexes, not a scan of the
registry; without it (the ``pgserver`` wheel ships no contrib) the migration says so in one
line and the search still finds people, by a scan.

The first needs an installed PostgreSQL with its contrib (Debian's ``postgresql-contrib``, run
as the ``postgres`` system user); it is skipped where there is none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from core.db import MIGRATIONS_DIR, create_db_engine, get_engine, migrate
from devstack.postgres import installed_postgres, installed_with_trigrams
from models.tables import Participant
from services.lists import Query, _select, page
from tests.test_postgres import pg_server, pg_url  # noqa: F401  (the pgserver fixtures)

pytestmark = pytest.mark.postgres
_p = Participant.__table__  # type: ignore[attr-defined]
TRIGRAM_INDEXES = {
    "participant_name_trgm",
    "participant_email_trgm",
    "participant_organization_trgm",
}


def registry(engine: Engine, count: int) -> None:
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(_p.insert(), [
            {"email": f"person{i}@example.org", "name": f"Elif Kaya {i}",
             "organization": "Müller Stiftung" if i == 7 else "Ministry of ICT",
             "country": "TR", "stakeholder_type": "Other", "language": "en",
             "unsubscribed": False, "unsubscribe_legacy": f"legacy-{i}", "pending": False,
             "created_at": now, "updated_at": now}
            for i in range(count)
        ])  # fmt: skip


def indexes(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT indexname FROM pg_indexes")).scalars()
        return {n for n in names if n.endswith("_trgm")}


def found(engine: Engine, text: str) -> list[str]:
    rows, _ = page(engine, Query("participants", q=text))
    return [r["name"] for r in rows]


@pytest.fixture
def with_trigrams() -> Iterator[str]:
    bindir = installed_with_trigrams()
    if bindir is None:
        pytest.skip("no installed PostgreSQL with pg_trgm (postgresql-contrib) to run as root")
    with installed_postgres(bindir) as url:
        yield url
        get_engine(url).dispose()


def test_with_pg_trgm_the_console_search_reads_the_trigram_indexes(with_trigrams: str) -> None:
    migrate(with_trigrams)
    engine = create_db_engine(with_trigrams)
    try:
        assert indexes(engine) == TRIGRAM_INDEXES
        registry(engine, 3000)
        assert found(engine, "kaya 1234") == ["Elif Kaya 1234"]  # any case, anywhere
        assert found(engine, "MÜLLER") == ["Elif Kaya 7"]
        _, stmt, _ = _select(Query("participants", q="Kaya 1234"), "postgresql")
        sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.begin() as conn:
            # What the planner may use for the console's own query (at 3,000 rows it would
            # rather scan; at 300,000 it takes the index: bench/console.py).
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}").scalars())
        assert "participant_name_trgm" in plan and "participant_email_trgm" in plan, plan
        assert "Seq Scan on participant" not in plan, plan
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", with_trigrams)
        config.attributes["engine"] = engine
        command.downgrade(config, "0012_totp_sealed")
        assert indexes(engine) == set()
        command.upgrade(config, "head")
        assert indexes(engine) == TRIGRAM_INDEXES
    finally:
        engine.dispose()


def test_without_pg_trgm_the_migration_says_so_and_search_still_works(
    pg_url: str,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    migrate(pg_url)
    engine = create_db_engine(pg_url)
    try:
        with engine.connect() as conn:
            available: Any = conn.execute(
                sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
            ).first()
        if available is not None:
            pytest.skip("this pgserver ships pg_trgm: the other test covers it")
        assert "pg_trgm is not installed on this server" in capsys.readouterr().out
        assert indexes(engine) == set()
        registry(engine, 50)
        assert found(engine, "kaya 12") == ["Elif Kaya 12"]
        assert found(engine, "müller") == ["Elif Kaya 7"]
    finally:
        engine.dispose()
