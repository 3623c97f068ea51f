"""The engine's database code on a real PostgreSQL server, as deployed (docker-compose.yml).

Everything else in the suite runs on SQLite; here the same code runs against PostgreSQL 16 from
the PyPI package ``pgserver`` (its binaries ship in the wheel, installed with the ``dev``
extra; nothing is downloaded at test time). The server is started once for this module in a
temporary directory, listens only on a Unix socket in that directory (no TCP port), and is
stopped and deleted at the end. Each test gets a fresh database brought up by the migrations.

As root, pgserver runs the server as an unprivileged system user it creates (``pgserver``).
"""

from __future__ import annotations

import csv
import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine, make_url

from activities.windows import WindowActivities
from core.db import MIGRATIONS_DIR, create_db_engine, get_engine, migrate
from core.settings import Settings
from devstack.catcher import MailCatcher
from intake.ocp import OcpForm, record_submission
from intake.participants import import_participants
from intake.windows import Refused
from mail.audience import audience_select
from mail.outbox import campaign_counts, deliver, enqueue
from models.tables import OcpSubmission, Participant, WindowKind
from models.wire import Audience, CampaignRequest, MessageKind, WindowRequest

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (as under CI); harmless.
    warnings.simplefilter("ignore")
    pgserver: Any = pytest.importorskip(
        "pgserver", reason="pgserver (PostgreSQL binaries from PyPI, in the dev extra) is missing"
    )
pytestmark = pytest.mark.postgres

pytest.importorskip("psycopg", reason="psycopg (the postgres extra) is missing")

_p = Participant.__table__  # type: ignore[attr-defined]
_ocp = OcpSubmission.__table__  # type: ignore[attr-defined]
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[Any]:
    """A throwaway PostgreSQL server in a temporary directory (not under pytest's own tmp
    tree: as root, pgserver opens the directories above the data to its server user)."""
    base = Path(tempfile.mkdtemp(prefix="wsis-pg-"))
    server = pgserver.get_server(base / "pgdata", cleanup_mode="delete")
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


def pg_url_for(server: Any, database: str) -> str:
    """``postgresql+psycopg://`` on the server's socket. Written out by hand: SQLAlchemy would
    percent-encode the socket path, and ``core.db.migrate`` cannot take a ``%`` (see
    test_migrate_takes_a_percent_encoded_url)."""
    socket_dir = server.get_postmaster_info().socket_dir
    return f"postgresql+psycopg://postgres@/{database}?host={socket_dir}"


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """A new, empty database on the server; the URL the engine would get as DATABASE_URL."""
    name = f"wsis_{next(_numbers)}"
    admin_engine = sa.create_engine(pg_url_for(pg_server, "postgres"), isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = pg_url_for(pg_server, name)
    yield url
    get_engine(url).dispose()  # the engine core.db.migrate used
    with admin_engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin_engine.dispose()


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    """An engine on that database after ``core.db.migrate``."""
    migrate(pg_url)
    engine = create_db_engine(pg_url)
    assert engine.dialect.name == "postgresql"
    yield engine
    engine.dispose()


def write_registry(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(
            fh,
            fieldnames=["name", "email", "organization", "country", "stakeholder_type", "language"],
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def people(count: int, *, org: str = "Ministry of ICT", start: int = 0) -> list[dict[str, str]]:
    return [
        {
            "name": f"Participant {i}",
            "email": f"Participant{i}@Example.org",
            "organization": org,
            "country": "Senegal",
            "stakeholder_type": "Government",
            "language": ("fr", "en")[i % 2],
        }
        for i in range(start, start + count)
    ]


def test_migrations_on_a_fresh_database(pg_url: str) -> None:
    migrate(pg_url)
    migrate(pg_url)  # already at head: nothing to do
    engine = create_db_engine(pg_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert {"participant", "window", "ocpsubmission", "campaign", "outbox"} <= tables
        with engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
            server = conn.execute(sa.text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    assert [version] == heads
    assert int(server.split(".")[0]) >= 12


def test_migrate_takes_a_percent_encoded_url(pg_url: str) -> None:
    # The server trusts local connections, so any password will do; '@' must be encoded.
    url = make_url(pg_url).set(password="p@ss").render_as_string(hide_password=False)
    assert "%40" in url
    migrate(url)
    engine = create_db_engine(url)
    try:
        assert "participant" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
        get_engine(url).dispose()


def test_participants_reimport_updates(pg: Engine, tmp_path: Path) -> None:
    first = write_registry(tmp_path / "first.csv", people(20))
    report = import_participants(first, pg)
    assert (report.created, report.updated, report.errors) == (20, 0, [])
    with pg.connect() as conn:
        tokens: dict[str, str] = dict(
            conn.execute(sa.select(_p.c.email, _p.c.unsubscribe_legacy)).all()
        )
    assert len(tokens) == 20 and "participant0@example.org" in tokens  # normalized

    # The same addresses again, new details, five new people and one invalid line.
    rows = people(25, org="Open Net")
    rows.append({**rows[0], "email": "not an address"})
    report = import_participants(write_registry(tmp_path / "second.csv", rows), pg)
    assert (report.created, report.updated) == (5, 20)
    assert [line for line, _ in report.errors] == [27]
    with pg.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(_p)).scalar_one() == 25
        orgs = set(conn.execute(sa.select(_p.c.organization).distinct()).scalars())
        after: dict[str, str] = dict(
            conn.execute(sa.select(_p.c.email, _p.c.unsubscribe_legacy)).all()
        )
    assert orgs == {"Open Net"}
    # An update keeps the participant's identity (and unsubscribe link).
    assert all(after[email] == token for email, token in tokens.items())


def test_vouching_on_import_is_kept(pg: Engine, tmp_path: Path) -> None:
    """Migration 0003's column, and the upsert that never withdraws a verification."""
    registry = write_registry(tmp_path / "registry.csv", people(3))
    assert import_participants(registry, pg, verified=True).verified == 3
    with pg.connect() as conn:
        first: dict[str, object] = dict(conn.execute(sa.select(_p.c.email, _p.c.verified_at)).all())
    assert all(first.values())
    import_participants(write_registry(tmp_path / "again.csv", people(4)), pg)
    with pg.connect() as conn:
        after: dict[str, object] = dict(conn.execute(sa.select(_p.c.email, _p.c.verified_at)).all())
    assert {e: after[e] for e in first} == first and after["participant3@example.org"] is None


async def test_outbox_enqueue_and_counts(pg: Engine, tmp_path: Path) -> None:
    import_participants(write_registry(tmp_path / "registry.csv", people(12)), pg)
    with pg.begin() as conn:
        conn.execute(
            _p.update().where(_p.c.email == "participant3@example.org").values(unsubscribed=True)
        )
    settings = Settings(database_url=pg.url.render_as_string(hide_password=False))
    request = CampaignRequest(
        key="wsis-pg-ocp:opening",
        process_id="wsis-pg-ocp",
        kind=MessageKind.OCP_OPENING,
        audience=Audience.EVERYONE,
        title="WSIS Forum 2017",
        timezone="Europe/Zurich",
        when=datetime(2017, 2, 20, 23, 0, tzinfo=UTC),
    )
    assert enqueue(request, audience_select(request, settings), engine=pg) is True
    counts = campaign_counts(request.key, engine=pg)
    assert (counts.recipients, counts.sent, counts.failed, counts.ambiguous) == (11, 0, 0, 0)

    # The audience is frozen: a retry adds nobody, even after the registry grew.
    import_participants(write_registry(tmp_path / "more.csv", people(3, start=100)), pg)
    assert enqueue(request, audience_select(request, settings), engine=pg) is False
    assert campaign_counts(request.key, engine=pg).recipients == 11

    # And the outbox delivers it, once per recipient, through a real SMTP server.
    with MailCatcher(port=_free_port()) as catcher:
        mail_settings = settings.model_copy(
            update={"smtp_host": catcher.host, "smtp_port": catcher.port}
        )
        result = await deliver(request, mail_settings, engine=pg)
        again = await deliver(request, mail_settings, engine=pg)  # a retried activity
        per = catcher.per_recipient(request.key)
    assert result.sent == again.sent == 11  # the campaign's totals, from the outbox
    assert len(per) == 11 and set(per.values()) == {1}  # nobody got it twice
    counts = campaign_counts(request.key, engine=pg)
    assert (counts.recipients, counts.sent, counts.failed) == (11, 11, 0)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_window_refuses_after_the_deadline(pg: Engine) -> None:
    process_id = "wsis-pg-ocp"
    opens = datetime(2017, 1, 9, 9, 0, tzinfo=UTC)
    deadline = datetime(2017, 2, 20, 23, 0, tzinfo=UTC)
    window = WindowRequest(
        process_id=process_id,
        kind=WindowKind.OCP_SUBMISSIONS.value,
        title="WSIS Forum 2017",
        opens_at=opens,
        closes_at=deadline,
        timezone="Europe/Zurich",
    )
    activities = WindowActivities(pg)
    opened = activities.open_window(window)
    assert (opened.state, opened.accepted) == ("open", 0)
    assert activities.open_window(window).state == "open"  # idempotent

    def form(i: int) -> OcpForm:
        return OcpForm(
            full_name=f"Person {i}",
            email=f"person{i}@example.org",
            organization="ITU",
            country="Switzerland",
            proposal=f"Proposal {i}",
        )

    with pytest.raises(Refused, match="opens"):
        record_submission(process_id, form(0), pg, now=opens - timedelta(seconds=1))
    submission_id, ack = record_submission(process_id, form(1), pg, now=opens + timedelta(days=3))
    assert submission_id > 0 and ack.participant_id is not None
    # The acknowledgement was queued in the same transaction.
    assert campaign_counts(ack.key, engine=pg).recipients == 1
    record_submission(process_id, form(2), pg, now=deadline - timedelta(seconds=1))
    with pytest.raises(Refused, match="closed at the deadline") as late:
        record_submission(process_id, form(3), pg, now=deadline + timedelta(seconds=1))
    assert "late submissions are not accepted" in str(late.value)
    with pytest.raises(Refused, match="closed at the deadline"):
        record_submission(process_id, form(4), pg, now=deadline)

    closed = activities.close_window(window)
    assert (closed.state, closed.accepted) == ("closed", 2)
    assert activities.close_window(window).accepted == 2  # idempotent
    assert activities.open_window(window).state == "closed"  # a retried open reopens nothing
    # Closed means closed, whatever the clock of the submitter says.
    with pytest.raises(Refused, match="closed at the deadline"):
        record_submission(process_id, form(5), pg, now=deadline - timedelta(hours=1))

    with pg.connect() as conn:
        rows = conn.execute(sa.select(_ocp.c.email, _ocp.c.submitted_at).order_by(_ocp.c.id)).all()
    assert [r.email for r in rows] == ["person1@example.org", "person2@example.org"]
    # Times come back aware and in UTC, as on SQLite.
    assert rows[1].submitted_at == deadline - timedelta(seconds=1)
    assert rows[1].submitted_at.tzinfo is UTC


def test_five_wrong_codes_end_a_code_under_concurrency(pg: Engine, tmp_path: Path) -> None:
    """Security review D5: on PostgreSQL concurrent wrong codes each claim their try in one
    statement, so exactly five are judged, whatever the concurrency."""
    from concurrent.futures import ThreadPoolExecutor

    from intake.accounts import SignInFailed, consume_code, request_sign_in

    import_participants(write_registry(tmp_path / "r.csv", people(1)), pg)
    key = b"k" * 32
    issued = request_sign_in(pg, "participant0@example.org", key)
    assert issued.recipient is not None

    def wrong(_: int) -> str:
        try:
            consume_code(pg, issued.pending, "AAAA-AAAA", key)
        except SignInFailed as failed:
            return failed.reason
        return "signed-in"

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(wrong, range(40)))
    assert answers.count("wrong-code") == 5
    assert answers.count("too-many-tries") == 35
