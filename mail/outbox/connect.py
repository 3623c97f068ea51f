"""Opening an SMTP connection as the settings say: TLS, then AUTH, never a password in clear.

``WSIS_SMTP_TLS``: ``auto`` (STARTTLS whenever the server offers it), ``starttls`` (required),
``implicit`` (TLS from the first byte, port 465) or ``none`` (plain, for a local catcher).
The password goes out only over an encrypted connection, unless ``none`` is set explicitly.
What no retry can fix (a 5xx greeting, credentials refused, required TLS not offered, an
untrusted certificate) raises ``Unusable`` and stops the campaign with the reason.
"""

from __future__ import annotations

import ssl

import aiosmtplib

from core.settings import Settings, SmtpTls
from mail.outbox.smtp import refusal


class Unusable(Exception):
    """The server cannot be used, and no retry can change that; the message says why."""


def tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The client TLS context of the settings (made once per pass: loading CAs costs)."""
    if settings.smtp_tls == SmtpTls.NONE:
        return None
    cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
    context = ssl.create_default_context(cafile=cafile)
    if not settings.smtp_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def open_connection(settings: Settings, tls: ssl.SSLContext | None) -> aiosmtplib.SMTP:
    """A connected client: greeted, encrypted as ``settings.smtp_tls`` says, logged in when
    a username is set. Raises ``Unusable`` when no retry can help, and
    ``aiosmtplib.SMTPException`` or ``OSError`` when the server is unreachable or said 4xx."""
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        use_tls=settings.smtp_tls == SmtpTls.IMPLICIT,
        start_tls=False,  # decided below, by the settings and what the server offers
        tls_context=tls,
        timeout=settings.smtp_timeout_seconds,
    )
    try:
        await smtp.connect()
        await _greet(smtp)
        encrypted = await _encrypt(smtp, settings)
        if settings.smtp_username:
            await _login(smtp, settings, encrypted=encrypted)
    except Unusable:
        smtp.close()
        raise
    except aiosmtplib.SMTPResponseException as exc:  # greeting, EHLO, STARTTLS or AUTH
        smtp.close()
        if exc.code >= 500:
            what = (
                "our credentials"
                if isinstance(exc, aiosmtplib.SMTPAuthenticationError)
                else "the connection"
            )
            raise Unusable(refusal(what, exc.code, exc.message)) from None
        raise
    except (aiosmtplib.SMTPException, OSError) as exc:
        smtp.close()
        if (tls_error := _tls_error(exc)) is not None:
            raise Unusable(_tls_reason(settings, tls_error)) from None
        raise
    except BaseException:
        smtp.close()
        raise
    return smtp


async def _greet(smtp: aiosmtplib.SMTP) -> None:
    try:
        await smtp.ehlo()
    except aiosmtplib.SMTPHeloError as exc:
        if exc.code not in (500, 502):
            raise
        await smtp.helo()  # a server without ESMTP


async def _encrypt(smtp: aiosmtplib.SMTP, settings: Settings) -> bool:
    """STARTTLS where the settings want it; whether the connection is encrypted now."""
    mode = settings.smtp_tls
    if mode == SmtpTls.IMPLICIT:
        return True
    if mode == SmtpTls.NONE:
        return False
    if smtp.supports_extension("starttls"):
        await smtp.starttls()
        await _greet(smtp)  # RFC 3207: forget what the server said before TLS
        return True
    if mode == SmtpTls.STARTTLS:
        raise Unusable(
            f"WSIS_SMTP_TLS=starttls requires STARTTLS and the SMTP server "
            f"{settings.smtp_host}:{settings.smtp_port} does not offer it"
        )
    return False


async def _login(smtp: aiosmtplib.SMTP, settings: Settings, *, encrypted: bool) -> None:
    if not encrypted and settings.smtp_tls != SmtpTls.NONE:
        raise Unusable(
            f"the SMTP server {settings.smtp_host}:{settings.smtp_port} does not offer "
            "STARTTLS and the SMTP password is never sent unencrypted (WSIS_SMTP_TLS=implicit "
            "for a TLS port; none only for a trusted local server)"
        )
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
    try:
        await smtp.login(settings.smtp_username or "", password)
    except (
        aiosmtplib.SMTPResponseException,  # the server's answer: 5xx stops, 4xx is retried
        aiosmtplib.SMTPTimeoutError,
        aiosmtplib.SMTPServerDisconnected,
    ):
        raise
    except aiosmtplib.SMTPException as exc:  # no AUTH offered, no mechanism in common
        raise Unusable(f"cannot log in to the SMTP server ({exc})") from None


def _tls_error(exc: BaseException) -> ssl.SSLError | None:
    """The TLS failure behind a connection error (aiosmtplib wraps it), if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_reason(settings: Settings, error: ssl.SSLError) -> str:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"the TLS certificate of the SMTP server {where} could not be verified "
            f"({error.verify_message}); set WSIS_SMTP_CA_FILE to the CA that signed it"
        )
    return f"TLS with the SMTP server {where} failed ({error.reason or error})"
