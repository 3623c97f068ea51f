"""What every command shares: how it refuses, how it prints dates, how it reaches Temporal.

Exit status: 0 done, 1 refused or failed (the message says why), 2 invalid input.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from temporalio.client import Client

from core.settings import Settings, get_settings

M = TypeVar("M", bound=BaseModel)

REFUSED = 1
INVALID = 2


def fail(message: str, code: int = REFUSED) -> typer.Exit:
    """Print ``message`` on standard error; the caller raises the returned ``Exit``."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def refusal(exc: Exception) -> str:
    """A validator's own words, without the exception types wrapped around them."""
    cause = getattr(exc, "cause", None)
    return str(getattr(cause, "message", None) or cause or exc)


def reasons(exc: ValidationError) -> str:
    """A pydantic error as one line: ``field: why; field: why``."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def validated(model: type[M], **fields: Any) -> M:
    """``model(**fields)`` that passes its own ``problems()`` check, if it has one (the wire
    models do: they validate at the edges), or exit 2 with the reasons on one line."""
    try:
        value = model(**fields)
    except ValidationError as exc:
        raise fail(reasons(exc), INVALID) from None
    problems: list[str] = value.problems() if hasattr(value, "problems") else []
    if problems:
        raise fail("; ".join(problems), INVALID)
    return value


def iso_utc(when: datetime) -> str:
    """``2017-02-20T22:59:59Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant(text: str, option: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (``2017-03-01T23:59:59+01:00``), or exit 2."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise fail(f"{option}: {text!r} is not an ISO 8601 date and time", INVALID) from None
    if when.tzinfo is None:
        raise fail(f"{option}: {text!r} has no UTC offset; add one, e.g. +01:00 or Z", INVALID)
    return when


def report_outcomes(outcomes: Iterable[tuple[str, str | None]]) -> None:
    """Print ``where: accepted`` or ``where: refused: why`` per row; exit 1 if any refused."""
    refused = False
    for where, why in outcomes:
        typer.echo(f"{where}: {'refused: ' + why if why else 'accepted'}", err=bool(why))
        refused = refused or bool(why)
    if refused:
        raise typer.Exit(REFUSED)


async def connect(settings: Settings | None = None) -> Client:
    """A Temporal client with the engine's data converter."""
    from worker import connect as worker_connect

    return await worker_connect(settings or get_settings())
