"""Migrations 0003 (participant.verified_at) and 0004 (title keys) on SQLite, up and down;
tests/test_postgres.py runs the whole chain on a real PostgreSQL."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from core.db import MIGRATIONS_DIR, create_db_engine
from models.text import title_key


def alembic(url: str, engine: sa.Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    config.attributes["engine"] = engine
    return config


def test_verified_at_up_and_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_db_engine(url)
    config = alembic(url, engine)
    command.upgrade(config, "head")
    columns = {c["name"]: c for c in sa.inspect(engine).get_columns("participant")}
    assert columns["verified_at"]["nullable"]
    command.downgrade(config, "0002")
    assert "verified_at" not in {c["name"] for c in sa.inspect(engine).get_columns("participant")}
    command.upgrade(config, "head")
    engine.dispose()


def test_title_keys_are_folded_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_db_engine(url)
    config = alembic(url, engine)
    command.upgrade(config, "0003")
    titles = [
        unicodedata.normalize("NFD", "Café Connect"),
        "\uff23\uff41\uff46\u00e9 Connect",  # fullwidth "Caf", then "é"
        "Smart  Villages",
    ]
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO participant (email, name, organization, country, stakeholder_type, "
            "language, unsubscribed, unsubscribe_token, created_at, updated_at) VALUES "
            "('o@example.org', 'O', '', '', 'Other', 'en', 0, 't', '2016-01-01', '2016-01-01')"
        )
        for title in titles:  # keys as the first releases computed them
            conn.execute(
                sa.text(
                    "INSERT INTO project (process_id, category, title, title_key, description, "
                    "owner_id, organization, stakeholder_type, country, submitted_at, status, "
                    "shortlisted, winner) VALUES ('wsis-2016-prizes', 'C1', :t, :k, 'x', 1, '', "
                    "'Other', 'X', :at, 'nominated', 1, 1)"
                ),
                {"t": title, "k": " ".join(title.split()).casefold(), "at": "2016-01-01 00:00:00"},
            )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        keys: dict[str, str] = dict(
            conn.execute(sa.text("SELECT title, title_key FROM project")).all()
        )
    assert keys == {t: title_key(t) for t in titles}
    assert keys[titles[0]] == keys[titles[1]] == title_key("Café Connect")
    engine.dispose()


def test_the_migrations_build_the_schema_the_models_describe(tmp_path: Path) -> None:
    """Every table, column and index of models/tables is made by a migration: a model
    changed without one (an index the queries rely on, say) fails here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    import models.tables  # noqa: F401  (the tables register on SQLModel.metadata)

    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_db_engine(url)
    command.upgrade(alembic(url, engine), "head")
    with engine.connect() as conn:
        # The registry's full-text index (0009_staff, SQLite) is the database's, no model's.
        context = MigrationContext.configure(
            conn,
            opts={"include_name": lambda name, *_: not str(name).startswith("participant_search")},
        )
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()
    assert differences == []


def test_0009_moves_existing_links_and_sessions_to_keyed_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A link mailed and a session opened before the upgrade still work after it, and the
    database keeps no unkeyed hash."""
    import hashlib
    import secrets
    from datetime import UTC, datetime, timedelta

    from core.settings import get_settings
    from intake.accounts import consume_link, keyed
    from intake.sessions import find_session

    monkeypatch.setenv("WSIS_PORTAL_SECRET", "m" * 40)
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_db_engine(url)
    config = alembic(url, engine)
    command.upgrade(config, "0008")
    token, session = secrets.token_urlsafe(32), secrets.token_urlsafe(32)

    def sha(secret: str) -> str:  # the old stored form
        return hashlib.sha256(secret.encode()).hexdigest()

    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO participant (id, email, name, organization, country, stakeholder_type,"
            " language, unsubscribed, unsubscribe_token, created_at, updated_at) VALUES"
            " (1, 'a@example.org', 'A', '', '', 'Other', 'en', 0, 't', :now, :now)"
        ), {"now": now})  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO signin_token (token_hash, code_hash, pending_hash, purpose,"
            " participant_id, address_hash, code_attempts, created_at, expires_at) VALUES"
            " (:t, 'c', :p, 'sign-in', 1, :a, 0, :now, :later)"
        ), {"t": sha(token), "p": sha("pending"), "now": now,
            "later": now + timedelta(minutes=20),
            "a": keyed(b"m" * 40, "a@example.org")})  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO portal_session (id_hash, participant_id, created_at, expires_at)"
            " VALUES (:s, 1, :now, :later)"
        ), {"s": sha(session), "now": now, "later": now + timedelta(days=1)})  # fmt: skip
    command.upgrade(config, "head")
    with engine.connect() as conn:
        kept = set(conn.execute(sa.text("SELECT token_hash FROM signin_token")).scalars())
        kept |= set(conn.execute(sa.text("SELECT id_hash FROM portal_session")).scalars())
    assert not kept & {sha(token), sha(session)}
    key = get_settings().portal_key()
    found = find_session(engine, session, key)
    assert found is not None and found.participant.email == "a@example.org"
    assert consume_link(engine, token, key) == 1
    command.downgrade(config, "0008")  # and back: the sessions and links are dropped
    engine.dispose()
    get_settings.cache_clear()


SEARCH_TRIGGERS = {
    "participant_search_insert",
    "participant_search_delete",
    "participant_search_update",
}


def test_the_participant_search_index_keeps_up_after_every_migration(tmp_path: Path) -> None:
    """The console's search (an FTS5 index kept by triggers, 0009_staff) still follows the
    registry at head, and after a downgrade to just past it and back: a later migration that
    rebuilt the participant table (SQLite batch mode) would silently drop its triggers."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_db_engine(url)
    config = alembic(url, engine)

    def triggers() -> set[str]:
        with engine.connect() as conn:
            found = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type='trigger'"))
            return {str(name) for name in found.scalars()}

    command.upgrade(config, "head")
    assert triggers() >= SEARCH_TRIGGERS
    command.downgrade(config, "0009_staff")
    command.upgrade(config, "head")
    assert triggers() >= SEARCH_TRIGGERS
    engine.dispose()


def test_0011_keeps_old_unsubscribe_links_working_without_storing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A token mailed before 0011 still unsubscribes its owner after it; the database keeps
    only its keyed hash; new tokens are computed (``<id>.<HMAC>``) and work too."""
    from core.settings import get_settings
    from intake.preferences import known_unsubscribe_token, unsubscribe, unsubscribe_owner
    from intake.tokens import unsubscribe_token

    monkeypatch.setenv("WSIS_PORTAL_SECRET", "u" * 40)
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_db_engine(url)
    config = alembic(url, engine)
    command.upgrade(config, "0009_revisions")
    old = "Ab-9_xYold-token-0123456"
    with engine.begin() as conn:
        for pid, token in ((1, old), (2, "another-old-token-42")):
            conn.execute(sa.text(
                "INSERT INTO participant (id, email, name, organization, country,"
                " stakeholder_type, language, unsubscribed, unsubscribe_token, pending,"
                " created_at, updated_at) VALUES (:id, :e, 'A', '', '', 'Other', 'en', 0, :t, 0,"
                " '2026-01-01', '2026-01-01')"
            ), {"id": pid, "e": f"p{pid}@example.org", "t": token})  # fmt: skip
    command.upgrade(config, "head")
    with engine.connect() as conn:
        kept = [str(v) for row in conn.execute(sa.text("SELECT * FROM participant")) for v in row]
    assert not [v for v in kept if old in v]
    key = get_settings().portal_key()
    assert known_unsubscribe_token(engine, key, old)
    assert not known_unsubscribe_token(engine, key, old + "x")
    assert not known_unsubscribe_token(engine, b"another key" * 4, old)
    assert unsubscribe_owner(engine, key, unsubscribe_token(key, 2, 0)) == 2
    assert unsubscribe(engine, key, old)
    with engine.connect() as conn:
        flags: dict[int, int] = dict(
            conn.execute(sa.text("SELECT id, unsubscribed FROM participant")).all()
        )
    assert flags == {1: 1, 2: 0}
    command.downgrade(config, "0009_revisions")
    engine.dispose()
    get_settings.cache_clear()


def test_0012_seals_the_staff_totp_secrets_and_sign_in_still_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A member enrolled before 0012 keeps their authenticator: the secret is sealed in place
    (no longer in the database in clear), their next code still signs them in, and a
    downgrade opens it again."""
    import pyotp

    from core.settings import get_settings
    from services import staff

    monkeypatch.setenv("WSIS_PORTAL_SECRET", "t" * 40)
    get_settings.cache_clear()
    url = f"sqlite:///{tmp_path / 'm.db'}"
    engine = create_db_engine(url)
    config = alembic(url, engine)
    command.upgrade(config, "0011_unsubscribe_tokens")
    secret = pyotp.random_base32()
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO participant (id, email, name, organization, country, stakeholder_type,"
            " language, unsubscribed, unsubscribe_legacy, pending, created_at, updated_at)"
            " VALUES (1, 'jane@itu.int', 'Jane', '', '', 'Other', 'en', 1, 'x', 0,"
            " '2026-01-01', '2026-01-01')"
        ))  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO staff_member (id, participant_id, role, totp_secret, totp_last_step,"
            " created_at) VALUES (1, 1, 'secretariat', :s, 100, '2026-01-01')"
        ), {"s": secret})  # fmt: skip
    command.upgrade(config, "head")
    with engine.connect() as conn:
        cells = [str(v) for row in conn.execute(sa.text("SELECT * FROM staff_member")) for v in row]
    assert not [c for c in cells if secret in c or secret.lower() in c]
    key = get_settings().portal_key()
    code = pyotp.TOTP(secret).now()
    assert not staff.check_code(engine, 1, code, b"another key")
    assert staff.check_code(engine, 1, code, key)
    command.downgrade(config, "0011_unsubscribe_tokens")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT totp_secret FROM staff_member")).scalar() == secret
    engine.dispose()
    get_settings.cache_clear()
