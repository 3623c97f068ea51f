"""Engine settings, read from environment variables (prefix ``WSIS_``) with local defaults.

Every default points at the embedded stack started by ``make demo``: the Temporal dev server
on localhost:7233, the SMTP catcher on localhost:8025 and a SQLite file under ``var/``.
``DATABASE_URL`` (no prefix) is honoured too, as most hosting platforms set it.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"


class SmtpTls(StrEnum):
    """How the connection to the SMTP server is encrypted."""

    AUTO = "auto"
    STARTTLS = "starttls"
    IMPLICIT = "implicit"
    NONE = "none"


class Settings(BaseSettings):
    """Where the engine finds Temporal, its database and its mail server."""

    model_config = SettingsConfigDict(env_prefix="WSIS_", extra="ignore")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "wsis"

    database_url: str = Field(
        default=f"sqlite:///{VAR_DIR / 'wsis.db'}",
        validation_alias=AliasChoices("WSIS_DATABASE_URL", "DATABASE_URL"),
    )

    smtp_host: str = "localhost"
    smtp_port: int = 8025
    smtp_username: str | None = None
    # Never printed: repr, logs and errors show "**********".
    smtp_password: SecretStr | None = None
    # auto: STARTTLS whenever the server offers it; starttls: required (nothing is sent to a
    # server that does not offer it); implicit: TLS from the first byte (port 465);
    # none: plain, for a local catcher. The password is only ever sent encrypted, unless none.
    smtp_tls: SmtpTls = SmtpTls.AUTO
    smtp_tls_verify: bool = True  # check the server's certificate and name
    smtp_ca_file: Path | None = None  # trust this CA (PEM) instead of the system's
    smtp_timeout_seconds: float = 30.0
    # Reused connections per campaign activity, and an optional global cap in messages/s.
    smtp_connections: int = 4
    smtp_rate_per_second: float | None = None
    # The relay supports SMTPUTF8 (RFC 6531): addresses may be internationalised
    # (müller@bücher.de). When False, intake refuses addresses that are not ASCII and the
    # sender fails them alone (mail.addresses.address_problem says why).
    smtp_utf8: bool = True

    mail_from: str = "WSIS Secretariat <wsis-info@itu.int>"
    # Where List-Unsubscribe points; {token} is the participant's unsubscribe token.
    unsubscribe_url: str = "https://www.itu.int/net4/wsis/unsubscribe/{token}"
    unsubscribe_mailto: str = "wsis-unsubscribe@itu.int"
    # Where operators' notices go (a category still waiting for its winner, ...).
    secretariat_email: str = "wsis-secretariat@itu.int"

    log_format: str = Field(default="auto", description="auto, json or console")
    log_level: str = "INFO"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
