"""Engine settings, read from environment variables (prefix ``WSIS_``) with local defaults.

Every default points at the embedded stack started by ``make demo``: the Temporal dev server
on localhost:7233, the SMTP catcher on localhost:8025 and a SQLite file under ``var/``.
``DATABASE_URL`` (no prefix) is honoured too, as most hosting platforms set it.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
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
    # A real cluster (Temporal Cloud, a self-hosted one behind mTLS): TLS with the system's
    # CAs, or this CA (PEM); a client certificate and key for mTLS; or an API key (a secret,
    # never printed; it implies TLS). The Web UI's address builds the console's links.
    temporal_tls: bool = False
    temporal_tls_ca_file: Path | None = None
    temporal_tls_cert_file: Path | None = None
    temporal_tls_key_file: Path | None = None
    temporal_api_key: SecretStr | None = None
    temporal_ui_url: str = "http://localhost:8233"

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
    # Transactional mail (sign-in links, acknowledgements, receipts) may come from its own
    # address; bulk announcements always come from mail_from.
    mail_from_transactional: str | None = None
    # Where List-Unsubscribe points; {token} is the participant's unsubscribe token. Empty:
    # the portal's own page, {portal_url}/unsubscribe/{token}.
    unsubscribe_url: str = ""
    unsubscribe_mailto: str = "wsis-unsubscribe@itu.int"
    # Where operators' notices go (a category still waiting for its winner, ...).
    secretariat_email: str = "wsis-secretariat@itu.int"

    # The participants' portal: where it listens, and the public address that every link in
    # every e-mail is built from (never from a request's Host header).
    portal_host: str = "127.0.0.1"
    portal_port: int = 8000
    portal_url: str = "http://localhost:8000"
    # Signs the portal's CSRF tokens and keys the hashes in its logs. Every portal process
    # must share it; when unset, one is made once and kept in var/portal-secret.
    portal_secret: SecretStr | None = None
    portal_max_body_bytes: int = 1_000_000
    # Proxies whose X-Forwarded-For names the client (uvicorn's forwarded_allow_ips); empty:
    # nobody's. A public portal must set it (`none`: served without a proxy).
    portal_trusted_proxies: str = ""
    # Sign-in requests allowed per address and per client network, each 15 minutes.
    signin_per_address: int = 5
    signin_per_client: int = 60

    # Mail that comes back (mail/inbound, README "Mail that comes back"). The inbound SMTP
    # service listens here; the MX or relay forwards the addresses below to it.
    inbound_host: str = "127.0.0.1"
    inbound_port: int = 2525
    inbound_max_bytes: int = 2_000_000  # larger messages are refused with 552
    inbound_max_recipients: int = 20  # per message; more get 452 (RFC 5321 4.5.3.1.10)
    # VERP (on when bounce_domain is set): bulk mail's envelope sender is
    # <bounce_localpart>+<signed token>@<bounce_domain>.
    bounce_localpart: str = "wsis-bounces"
    bounce_domain: str = ""
    # Mailman's bounce score: a hard bounce adds 1, a soft one 0.5, at most once a day per
    # address; the score suspends bulk mail at the threshold and is forgotten after stale days.
    bounce_score_hard: float = 1.0
    bounce_score_soft: float = 0.5
    bounce_threshold: float = 5.0
    bounce_stale_days: int = 7
    # Official OCP submissions by e-mail: the OCP's address (its +token variants are the
    # per-recipient Reply-To of the OCP opening announcement). Empty: off.
    ocp_address: str = ""
    # An Authentication-Results header (RFC 8601) from this authserv-id (our own MX) is
    # trusted for DMARC; otherwise the DKIM signatures are verified here.
    inbound_authserv_id: str = ""
    # At most one automatic answer per sender in this many hours.
    inbound_answer_every_hours: float = 24.0
    # Outbound DKIM (dkimpy): every message is signed when all three are set.
    dkim_domain: str = ""
    dkim_selector: str = ""
    dkim_key_file: Path | None = None

    log_format: str = Field(default="auto", description="auto, json or console")
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _portal_links(self) -> Self:
        self.portal_url = self.portal_url.rstrip("/")
        if not self.unsubscribe_url:
            self.unsubscribe_url = f"{self.portal_url}/unsubscribe/{{token}}"
        return self

    def portal_key(self) -> bytes:
        """The portal's secret key (see ``portal_secret``)."""
        if self.portal_secret is not None:
            return self.portal_secret.get_secret_value().encode("utf-8")
        return _kept_secret(VAR_DIR / "portal-secret")


def _kept_secret(path: Path) -> bytes:
    """A random key made once and kept in ``path`` (readable by its owner only)."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32).encode("ascii")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
