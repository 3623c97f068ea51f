"""The cycle files the console offers: the shipped ones (``cycles/``) and drafts written
from the console (``var/cycles/``). A file is named by its bare name, never by a path."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from core.settings import PROJECT_ROOT, VAR_DIR
from models.cycle import CycleConfig
from services.cycles import load
from services.errors import INVALID, Refused

SHIPPED = PROJECT_ROOT / "cycles"
DRAFTS = VAR_DIR / "cycles"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,80}\.toml")
MAX_BYTES = 1 << 20


def names() -> list[str]:
    """Every cycle file, drafts first (newest name first)."""
    found = [p.name for d in (DRAFTS, SHIPPED) if d.is_dir() for p in d.glob("*.toml")]
    return sorted(set(found), reverse=True)


def path_of(name: str) -> Path:
    """The file called ``name`` (a draft over a shipped one), or ``Refused``."""
    if not _NAME.fullmatch(name):
        raise Refused("choose a cycle file from the list", INVALID)
    for folder in (DRAFTS, SHIPPED):
        if (folder / name).is_file():
            return folder / name
    raise Refused(f"{name}: no such cycle file", INVALID)


def save_draft(name: str, text: str) -> CycleConfig:
    """Check ``text`` as a cycle file, then keep it as the draft ``name`` (replacing one)."""
    if not _NAME.fullmatch(name):
        raise Refused("a draft's name is letters, digits, dots and hyphens, ending .toml", INVALID)
    data = text.encode("utf-8")
    if len(data) > MAX_BYTES:
        raise Refused("a cycle file is at most 1 MiB", INVALID)
    DRAFTS.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=DRAFTS, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    try:
        cycle = load(Path(tmp))
    except Refused:
        os.unlink(tmp)
        raise
    os.replace(tmp, DRAFTS / name)
    return cycle
