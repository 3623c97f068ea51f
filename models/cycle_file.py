"""Reading a cycle file: TOML in, a checked ``CycleConfig`` out, or every problem at once.

``check`` prints one line per problem. Pydantic skips a section's cross-field checks (the
order of phases, meetings against the deadline) while a field of that section is invalid, so
the refused fields are patched with neutral values and the file checked again, until no new
problem appears.

Whatever the file holds (any bytes, a directory, a FIFO, TOML nested a thousand deep), the
outcome is a ``CycleConfig`` or a ``ConfigError`` whose problems are single printable lines.
"""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.files import FileRefused, MiB, read_bounded
from models.cycle import CycleConfig
from models.text import printable

CYCLE_FILE_LIMIT = 1 * MiB  # a real cycle file is a few kilobytes
MAX_DEPTH = 16  # a cycle file nests 4 levels deep (contests.0.categories.0)


class ConfigError(Exception):
    """A cycle file that cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def _describe(error: Any) -> str:
    loc = ".".join(str(p) for p in error["loc"] if p not in ("function-after",))
    kind = error["type"]
    if kind == "missing":
        message = "missing field"
    elif kind == "timezone_aware":
        message = f"naive datetime {error['input']}: add a UTC offset, e.g. +01:00 or Z"
    elif kind == "extra_forbidden":
        message = "unknown field"
    elif kind == "value_error":
        message = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
    else:
        message = error["msg"]
    return f"{loc}: {message}" if loc else message


def problem_lines(exc: ValidationError) -> list[str]:
    """One line per problem in ``exc``, as ``check`` prints them (printable, one line each:
    a key in the file may hold a line break or an escape sequence)."""
    lines: list[str] = []
    for error in exc.errors():
        loc = _loc(error)
        # One pydantic error may carry several of our problems joined by "; ".
        parts = _describe({**error, "loc": ()}).split("; ")
        lines += [printable(f"{loc}: {p}" if loc else p) for p in parts]
    return lines


def _loc(error: Any) -> str:
    return ".".join(str(p) for p in error["loc"] if p not in ("function-after",))


def _utc(value: Any) -> Any:
    if isinstance(value, datetime) and value.tzinfo and value.utcoffset():
        try:
            return value.astimezone(UTC)
        except OverflowError:  # out of range: refused by its own check
            return value
    return value


def _in_utc(section: dict[str, Any]) -> dict[str, Any]:
    return {k: _utc(v) for k, v in section.items()}


def _repair(data: Any, exc: ValidationError) -> bool:
    """Patch the fields ``exc`` refused with neutral values, so that a second pass can run the
    cross-field checks (order of phases, meetings against the deadline) that pydantic skips
    while a field of the same section is invalid. Returns whether anything was patched."""
    changed = False
    for error in exc.errors():
        if not error["loc"]:
            continue  # a problem of the whole file: nothing to patch
        *path, last = error["loc"]
        node = data
        try:
            for part in path:
                node = node[part]
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(node, dict):
            continue
        if error["type"] == "timezone_aware" and isinstance(node.get(last), datetime):
            node[last] = node[last].replace(tzinfo=UTC)
        elif last == "timezone" and error["type"] == "value_error":
            node.update(_in_utc(node), timezone="UTC")
        elif error["type"] == "missing" and last in ("name", "title", "venue"):
            node[last] = "(missing)"
        elif (
            error["type"] == "value_error"
            and isinstance(node.get(last), dict)
            and "does not match" in str(error.get("ctx", {}).get("error", ""))
            and any(isinstance(v, datetime) and v.utcoffset() for v in node[last].values())
        ):
            # A section refused for an offset that does not match its zone: the same instants
            # in UTC let the sections around it be checked.
            node[last] = _in_utc(node[last])
        else:
            continue
        changed = True
    return changed


def _depth(data: Any) -> int:
    """How deeply ``data`` nests (tables and arrays), without recursion."""
    deepest, stack = 0, [(data, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(node, dict):
            stack += [(v, depth + 1) for v in node.values()]
        elif isinstance(node, list | tuple):
            stack += [(v, depth + 1) for v in node]
    return deepest


def parse_cycle(data: dict[str, Any], source: str = "<cycle>") -> CycleConfig:
    """Validate a parsed cycle file; raise ``ConfigError`` with every problem found."""
    if not isinstance(data, dict):
        raise ConfigError(source, ["a cycle file is a TOML table of settings"])
    if _depth(data) > MAX_DEPTH:
        raise ConfigError(source, [f"nested more than {MAX_DEPTH} levels deep"])
    try:
        return CycleConfig.model_validate(data)
    except ValidationError as exc:
        problems = problem_lines(exc)
        patched = copy.deepcopy(data)
        for _ in range(3):  # each pass can uncover checks that the previous one skipped
            if not _repair(patched, exc):
                break
            try:
                CycleConfig.model_validate(patched)
                break
            except ValidationError as again:
                problems += [p for p in problem_lines(again) if p not in problems]
                exc = again
        raise ConfigError(source, problems) from None


def decode_utf8(data: bytes) -> str:
    """``data`` as UTF-8 text (a leading byte order mark dropped); ``ValueError`` naming the
    line and column of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        line = data.count(b"\n", 0, start) + 1
        column = start - (data.rfind(b"\n", 0, start) + 1) + 1
        raise ValueError(
            f"not UTF-8 text: byte 0x{data[start]:02x} at line {line}, column {column} "
            f"(save the file as UTF-8)"
        ) from None


def load_cycle(path: str | Path) -> CycleConfig:
    """Read and validate a cycle file; raise ``ConfigError`` with every problem found.

    Refused before reading: a path that is not a regular file (a directory, a FIFO, a
    device) or a file over ``CYCLE_FILE_LIMIT``.
    """
    source = str(path)
    try:
        text = decode_utf8(read_bounded(path, limit=CYCLE_FILE_LIMIT, what="cycle file"))
        data = tomllib.loads(text)
    except FileRefused as exc:
        raise ConfigError(source, [printable(exc.reason)]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [printable(f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ConfigError(source, ["not valid TOML: nested too deeply"]) from None
    except ValueError as exc:
        raise ConfigError(source, [str(exc)]) from None
    return parse_cycle(data, source)
