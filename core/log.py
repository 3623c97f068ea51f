"""structlog set-up: JSON lines when not on a terminal, coloured console lines when on one.

Temporal's own ``workflow.logger``/``activity.logger`` add the workflow and activity context
(workflow id, run id, activity type, attempt) as an ``extra`` mapping; the ``temporal_context``
processor below lifts that mapping into the structlog event so every line carries it.

No line carries an e-mail address: exceptions are rendered as plain text (no rich traceback
with local variables) and every text of a line goes through ``core.redact``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from core.redact import redact_addresses
from core.settings import get_settings

_configured = False


def _temporal_context(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    record = event.get("_record")
    if record is not None:
        for key in ("temporal_workflow", "temporal_activity"):
            ctx = getattr(record, key, None)
            if isinstance(ctx, dict):
                event.update({f"{key.removeprefix('temporal_')}.{k}": v for k, v in ctx.items()})
    return event


def redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Every text of a log line with its e-mail addresses redacted (exceptions included: this
    runs after ``format_exc_info`` has made them text)."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact_addresses(value)
    return event


def configure_logging(*, force_json: bool | None = None) -> None:
    """Route stdlib logging (Temporal's loggers included) and structlog through one renderer."""
    global _configured
    if _configured:
        return
    settings = get_settings()
    if force_json is not None:
        as_json = force_json
    elif settings.log_format == "auto":
        as_json = not sys.stderr.isatty()
    else:
        as_json = settings.log_format == "json"

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, _temporal_context],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact_event,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    # Third-party chatter that would drown the engine's own lines.
    for noisy in ("aiosmtpd", "mail.log", "sqlalchemy.engine", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str) -> Any:
    """A structlog logger; call ``configure_logging()`` once at process start."""
    return structlog.get_logger(name)
