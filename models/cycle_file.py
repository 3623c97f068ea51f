"""Reading a cycle file: TOML in, a checked ``CycleConfig`` out, or every problem at once.

``check`` prints one line per problem. Pydantic skips a section's cross-field checks (the
order of phases, meetings against the deadline) while a field of that section is invalid, so
the refused fields are patched with neutral values and the file checked again, until no new
problem appears.
"""

from __future__ import annotations

import copy
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from models.cycle import CycleConfig


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
    """One line per problem in ``exc``, as ``check`` prints them."""
    lines: list[str] = []
    for error in exc.errors():
        described = _describe(error)
        # One pydantic error may carry several of our problems joined by "; ".
        loc, _, rest = described.partition(": ")
        parts = rest.split("; ") if rest else [described]
        lines += [f"{loc}: {p}" if rest else p for p in parts]
    return lines


def _in_utc(section: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo and v.utcoffset() else v
        for k, v in section.items()
    }


def _repair(data: Any, exc: ValidationError) -> bool:
    """Patch the fields ``exc`` refused with neutral values, so that a second pass can run the
    cross-field checks (order of phases, meetings against the deadline) that pydantic skips
    while a field of the same section is invalid. Returns whether anything was patched."""
    changed = False
    for error in exc.errors():
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


def parse_cycle(data: dict[str, Any], source: str = "<cycle>") -> CycleConfig:
    """Validate a parsed cycle file; raise ``ConfigError`` with every problem found."""
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


def load_cycle(path: str | Path) -> CycleConfig:
    """Read and validate a cycle file; raise ``ConfigError`` with every problem found."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), ["file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_cycle(data, str(path))
