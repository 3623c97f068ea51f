"""What every command shares: how it refuses, how it prints dates, how it reaches Temporal.

Exit status: 0 done, 1 refused by a rule or failed (the message says why), 2 invalid input.
A refusal is one line on standard error; stored text is printed through ``printable``.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from models.text import looks_like_address, printable

if TYPE_CHECKING:
    from pydantic import BaseModel, ValidationError


M = TypeVar("M", bound="BaseModel")

REFUSED = 1
INVALID = 2

# Years, cycle ids, contest slugs and process names become workflow ids and go into
# visibility queries: the cycle file's pattern for ids, nothing else.
_IDENTIFIER = re.compile(r"[a-z0-9][a-z0-9-]{0,99}")


def identifier(value: Any) -> Any:
    """Typer callback: a year, a cycle id or a contest slug (one or a list), or a usage
    error (one line, exit 2)."""
    for item in value if isinstance(value, list) else [value]:
        if item is not None and not _IDENTIFIER.fullmatch(item):
            raise typer.BadParameter(
                f"{item[:40]!r} is not a year, an id or a slug "
                f"(lower-case letters, digits, hyphens)"
            )
    return value


def no_address(value: Any) -> Any:
    """Typer callback for who asks (``--by``): a role or staff id, never an e-mail address,
    however disguised (a fullwidth at sign, "(at)"): update arguments stay in the workflow
    history for years."""
    if isinstance(value, str) and looks_like_address(value):
        raise typer.BadParameter("give a role or staff id, not an e-mail address")
    return value


Cycle = Annotated[str, typer.Argument(help="YEAR or cycle id, e.g. 2017", callback=identifier)]
Contest = Annotated[str, typer.Option(help="Contest slug", callback=identifier)]


def fail(message: str, code: int = REFUSED) -> typer.Exit:
    """Print ``message`` on standard error, as one printable line; the caller raises the
    returned ``Exit``."""
    typer.echo(printable(message), err=True)
    return typer.Exit(code)


def reasons(exc: ValidationError, labels: Mapping[str, str] | None = None) -> str:
    """A pydantic error as one line: ``field: why; field: why`` (``labels``: a field by the
    option it came from)."""
    from intake.fields import reasons as form_reasons

    return form_reasons(exc, labels)


def validated(model: type[M], labels: Mapping[str, str] | None = None, **fields: Any) -> M:
    """``model(**fields)`` that passes its own ``problems()`` check, if it has one (the wire
    models do: they validate at the edges), or exit 2 with the reasons on one line, each
    field named by its option in ``labels`` (``{"new": "--to"}``)."""
    from pydantic import ValidationError

    try:
        value = model(**fields)
    except ValidationError as exc:
        raise fail(reasons(exc, labels), INVALID) from None
    problems: list[str] = value.problems() if hasattr(value, "problems") else []
    if problems:
        raise fail("; ".join(problems), INVALID)
    return value


def iso_utc(when: datetime) -> str:
    """``2017-02-20T22:59:59Z``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant(text: str, option: str) -> datetime:
    """An ISO 8601 instant with its UTC offset (``2017-03-01T23:59:59+01:00``; the changes'
    own ``models.wire.AwareInstant``), or exit 2."""
    from pydantic import TypeAdapter, ValidationError

    from models.wire import AwareInstant

    try:
        when: datetime = TypeAdapter(AwareInstant).validate_python(text)
    except ValidationError as exc:
        raise fail(reasons(exc, {"": option}), INVALID) from None
    return when


@dataclass(frozen=True)
class Outcome:
    """What became of one row of a batch (or the one form): accepted, or refused with the
    reason and the exit status it calls for (``INVALID`` input, ``REFUSED`` by a rule)."""

    where: str  # "line 12", "form"
    refusal: str | None = None
    status: int = REFUSED
    done: str = "accepted"


def report_outcomes(outcomes: Iterable[Outcome]) -> None:
    """Print ``where: done`` or ``where: refused: why`` per row, one line each; exit with the
    worst status: 2 if any input was invalid, else 1 if any was refused by a rule."""
    worst = 0
    for o in outcomes:
        if o.refusal is None:
            typer.echo(printable(f"{o.where}: {o.done}"))
        else:
            typer.echo(printable(f"{o.where}: refused: {o.refusal}"), err=True)
            worst = max(worst, o.status)
    if worst:
        raise typer.Exit(worst)


def lazy(module: str, name: str) -> Callable[..., Any]:
    """A stand-in for the function ``module.name`` that imports its module when first called
    (see ``cli/app.py``): for the names a test or a caller reaches as ``cli.<module>.name``."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``{module}.{name}``, imported when first called."
    return call
