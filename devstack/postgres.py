"""A throwaway PostgreSQL server from an installed PostgreSQL (e.g. Debian's
``postgresql-15`` with its contrib, so with ``pg_trgm``), for the benchmark and the tests that
need what the ``pgserver`` wheel does not ship (it has no contrib extensions).

The server runs as the ``postgres`` system user (root may not run it), in a temporary
directory, listening on a Unix socket in that directory only (no TCP port), and is stopped and
deleted at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

INSTALLED = Path("/usr/lib/postgresql")


def installed_with_trigrams() -> Path | None:
    """The ``bin/`` of the newest installed PostgreSQL whose contrib has ``pg_trgm``, when
    this process may run it (as root, through the ``postgres`` system user); else None."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return None
    versions = sorted(
        (p for p in INSTALLED.glob("*") if p.name.isdigit()), key=lambda p: int(p.name)
    )
    for version in reversed(versions):
        control = Path(f"/usr/share/postgresql/{version.name}/extension/pg_trgm.control")
        if (version / "bin" / "initdb").exists() and control.exists():
            return version / "bin"
    return None


@contextmanager
def installed_postgres(bindir: Path, database: str = "wsis") -> Iterator[str]:
    """A new server from ``bindir`` with one empty ``database``; its SQLAlchemy URL."""
    base = Path(tempfile.mkdtemp(prefix="wsis-pgsys-"))
    data = base / "data"
    as_postgres = ["runuser", "-u", "postgres", "--"]
    shutil.chown(base, "postgres")
    # UTF-8 with the C.UTF-8 locale, as a deployment's database (case folding beyond ASCII).
    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust",
                    "-U", "postgres", "-E", "UTF8", "--locale", "C.UTF-8", "--no-sync"],
                   check=True, capture_output=True)  # fmt: skip
    pg_ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data)]
    options = f"-k {base} -c listen_addresses=''"
    subprocess.run([*pg_ctl, "-o", options, "-l", str(base / "log"), "-w", "start"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        admin = sa.create_engine(
            f"postgresql+psycopg://postgres@/postgres?host={base}", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{database}"')
        admin.dispose()
        yield f"postgresql+psycopg://postgres@/{database}?host={base}"
    finally:
        subprocess.run([*pg_ctl, "-m", "fast", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
