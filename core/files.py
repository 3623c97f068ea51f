"""Reading a file a person names on the command line, without trusting it.

A path may be a directory, a FIFO that never ends, ``/dev/zero`` or a 10 GB file. It is
checked before it is read (a regular file, within the limit), opened without blocking, checked
again on the open descriptor (the path may have been swapped in between) and read up to one
byte past the limit, so nothing makes the reader hang or fill the memory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MiB = 1024 * 1024


class FileRefused(ValueError):
    """A file that is not read: ``reason`` says why in one line."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def size_text(n: int) -> str:
    """``1 MiB``, ``60.2 MiB``, ``812 bytes``."""
    if n < MiB:
        return f"{n:,} bytes"
    return f"{n / MiB:.1f} MiB".replace(".0 MiB", " MiB")


def _check(path: str | Path, info: os.stat_result, limit: int, what: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise FileRefused(path, f"is {_kind(info.st_mode)}, not a {what}")
    if info.st_size > limit:
        raise FileRefused(
            path, f"is {size_text(info.st_size)}; a {what} may be at most {size_text(limit)}"
        )


def read_bounded(path: str | Path, *, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file at ``path``, at most ``limit`` of them.

    ``FileRefused`` (one line, naming ``what``, e.g. "cycle file") when it does not exist,
    cannot be read, is not a regular file, or is larger than ``limit``; nothing else is
    raised for a bad path.
    """
    try:
        _check(path, os.stat(path), limit, what)
        # O_NONBLOCK: if the path became a FIFO since the stat, open must not wait for a
        # writer; the fstat below then refuses it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise FileRefused(path, "file not found") from None
    except PermissionError:
        raise FileRefused(path, "permission denied") from None
    except OSError as exc:
        raise FileRefused(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        _check(path, os.fstat(fd), limit, what)
        chunks: list[bytes] = []
        left = limit + 1  # one byte past the limit tells a file that grew since the stat
        while left > 0 and (chunk := os.read(fd, min(left, MiB))):
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileRefused(path, f"cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise FileRefused(path, f"is larger than {size_text(limit)}, the limit for a {what}")
    return data
