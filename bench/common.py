"""What the benchmarks share: a registry of synthetic participants, the portal in its own
process, and how figures are printed."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from core.db import create_db_engine
from intake.search_index import bulk_indexed
from models.tables import Participant

ROOT = Path(__file__).resolve().parent.parent
_p = Participant.__table__  # type: ignore[attr-defined]
LANGUAGES = ["en", "fr", "es", "en", "zh", "ar", "ru", "pt", "en", "en"]
NAMES = [
    "Amina Diallo",
    "Bruno Costa",
    "Chen Wei 陈伟",
    "Dana Ivanova",
    "Elif Kaya",
    "Farah Haddad فرح",
    "Gustavo Pérez",
    "Hana Sato",
    "Ivan Petrov Иван",
    "Julia Müller",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def address(i: int) -> str:
    return f"participant{i}@example.org"


def add_participants(url: str, count: int, *, verified: bool = False) -> None:
    """``count`` participants ``participant<i>@example.org`` in ten languages."""
    engine = create_db_engine(url)
    now = datetime.now(UTC)
    batch = 20_000
    with engine.begin() as conn:
        for start in range(0, count, batch):
            emails = [address(i) for i in range(start, min(start + batch, count))]
            with bulk_indexed(conn, emails):  # the search index fed once a batch
                conn.execute(
                    _p.insert(),
                    [
                        {
                            "email": address(i),
                            "name": f"{NAMES[i % 10]} {i}",
                            "organization": "Org",
                            "country": "Switzerland",
                            "stakeholder_type": "Other",
                            "language": LANGUAGES[i % 10],
                            "unsubscribed": False,
                            "unsubscribe_legacy": secrets.token_urlsafe(18),
                            "verified_at": now if verified else None,
                            "created_at": now,
                            "updated_at": now,
                        }
                        for i in range(start, min(start + batch, count))
                    ],
                )
    engine.dispose()


class PortalProcess:
    """``python -m portal`` in its own process (as deployed), with ``env`` settings."""

    def __init__(self, env: dict[str, str], port: int, log: Path, workers: int = 1) -> None:
        self.url = f"http://127.0.0.1:{port}"
        full = {
            **os.environ,
            **env,
            "WSIS_PORTAL_HOST": "127.0.0.1",
            "WSIS_PORTAL_PORT": str(port),
            "WSIS_PORTAL_URL": self.url,
            "WSIS_LOG_LEVEL": "WARNING",
        }
        self._path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portal", "--workers", str(workers)],
            cwd=ROOT,
            env=full,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the portal exited; see {log}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"the portal did not start; see {log}")

    def tail(self, lines: int = 40) -> str:
        """The end of the portal's log (to show why a run failed)."""
        self._log.flush()
        return "\n".join(self._path.read_text(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User and system CPU time so far of the portal and its worker processes (Linux)."""
        stats: dict[int, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    text = (entry / "stat").read_text()
                except OSError:
                    continue  # ended meanwhile
                stats[int(entry.name)] = text.rsplit(")", 1)[1].split()
        tree, ticks = {self.proc.pid}, 0
        for _ in range(3):  # the server, uvicorn's workers, their multiprocessing helpers
            tree |= {pid for pid, fields in stats.items() if int(fields[1]) in tree}
        for pid in tree:
            if pid in stats:
                ticks += int(stats[pid][11]) + int(stats[pid][12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        """Stop it; killed if it has not finished its requests within 30 s."""
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    """p50 and p99 of ``samples`` (seconds), in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.median(ordered) * 1000, p99 * 1000


class Browsers:
    """``count`` simulated browsers for ``url``, each on one kept-alive connection, as a
    proxy in front of the portal holds them; people take turns on them, each starting
    without cookies (a new httpx client a person would cost the simulated browsers more CPU
    than the portal spends). Idle connections are dropped before uvicorn closes them (5 s):
    a closing one is never reused."""

    def __init__(self, url: str, count: int, timeout: float = 60) -> None:
        self._idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
        limits = httpx.Limits(max_connections=1, keepalive_expiry=4)
        for _ in range(count):
            self._idle.put_nowait(
                httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits, trust_env=False)
            )

    @asynccontextmanager
    async def browser(self) -> AsyncIterator[httpx.AsyncClient]:
        """A free browser, its cookies cleared, for one person's visit."""
        client = await self._idle.get()
        client.cookies.clear()
        try:
            yield client
        finally:
            self._idle.put_nowait(client)

    async def aclose(self) -> None:
        while not self._idle.empty():
            await self._idle.get_nowait().aclose()
