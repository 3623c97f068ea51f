"""Secrets and transport: STARTTLS whenever offered, TLS as the settings require, AUTH only
encrypted, and a password that never prints.

A real aiosmtpd server on loopback with a certificate from a throwaway CA (``trustme``),
offering STARTTLS (or TLS from the first byte) and requiring AUTH.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr
from sqlalchemy.engine import Engine

from core.settings import Settings, SmtpTls
from devstack.catcher import MailCatcher
from mail.audience import audience_select
from mail.compose import Recipient
from mail.outbox import CampaignStopped, campaign_counts, deliver, enqueue
from mail.transactional import send_now
from models.wire import CampaignResult, MessageKind

from .conftest import free_port
from .test_email_delivery import add_people, announcement

# The test servers take AUTH in clear on purpose: to show that the client never sends it.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "correct-horse-battery-staple"
CREDENTIALS = ("wsis-engine", PASSWORD)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def catcher(**kw: object) -> MailCatcher:
    return MailCatcher(port=free_port(), **kw).start()  # type: ignore[arg-type]


@pytest.fixture
def starttls_server(server_tls: ssl.SSLContext) -> Iterator[MailCatcher]:
    """Offers STARTTLS, takes no mail before it, requires AUTH."""
    server = catcher(starttls=server_tls, require_starttls=True, credentials=CREDENTIALS)
    yield server
    server.stop()


@pytest.fixture
def plain_server() -> Iterator[MailCatcher]:
    """No TLS at all, and it would take AUTH in clear: only the client can refuse."""
    server = catcher(credentials=CREDENTIALS)
    yield server
    server.stop()


def configured(settings: Settings, server: MailCatcher, **kw: object) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": server.host,
            "smtp_port": server.port,
            "smtp_username": CREDENTIALS[0],
            "smtp_password": SecretStr(PASSWORD),
            "smtp_connections": 2,
            **kw,
        }
    )


async def campaign(settings: Settings, engine: Engine, key: str) -> CampaignResult:
    add_people(engine, 6)
    request = announcement(key)
    enqueue(request, audience_select(request, settings), engine=engine)
    return await deliver(request, settings, engine=engine, connect_patience=1.0)


async def test_auto_uses_starttls_and_logs_in_only_encrypted(
    settings: Settings, engine: Engine, starttls_server: MailCatcher, ca_file: Path
) -> None:
    auto = configured(settings, starttls_server, smtp_ca_file=ca_file)
    assert auto.smtp_tls is SmtpTls.AUTO  # the default
    result = await campaign(auto, engine, "a:starttls")
    assert result.sent == result.recipients == 6 == starttls_server.count
    assert starttls_server.logins and all(encrypted for _, encrypted in starttls_server.logins)


async def test_implicit_tls(
    settings: Settings, engine: Engine, server_tls: ssl.SSLContext, ca_file: Path
) -> None:
    server = catcher(implicit_tls=server_tls, credentials=CREDENTIALS)
    try:
        implicit = configured(settings, server, smtp_tls=SmtpTls.IMPLICIT, smtp_ca_file=ca_file)
        result = await campaign(implicit, engine, "a:implicit")
    finally:
        server.stop()
    assert result.sent == 6 and server.logins and all(e for _, e in server.logins)


async def test_starttls_required_but_not_offered_stops_clearly(
    settings: Settings, engine: Engine, plain_server: MailCatcher
) -> None:
    required = configured(settings, plain_server, smtp_tls=SmtpTls.STARTTLS)
    with pytest.raises(CampaignStopped, match="WSIS_SMTP_TLS=starttls requires STARTTLS"):
        await campaign(required, engine, "a:required")
    assert plain_server.count == 0 and not plain_server.logins
    assert campaign_counts("a:required", engine=engine).sent == 0  # all still pending


async def test_auto_never_sends_the_password_unencrypted(
    settings: Settings, engine: Engine, plain_server: MailCatcher
) -> None:
    auto = configured(settings, plain_server)
    with pytest.raises(CampaignStopped, match="never sent unencrypted"):
        await campaign(auto, engine, "a:no-tls")
    assert not plain_server.logins and plain_server.count == 0


async def test_none_sends_auth_in_clear_only_when_asked_to(
    settings: Settings, engine: Engine, plain_server: MailCatcher
) -> None:
    plain = configured(settings, plain_server, smtp_tls=SmtpTls.NONE)
    result = await campaign(plain, engine, "a:plain")
    assert result.sent == 6 and plain_server.logins == [(CREDENTIALS[0], False)] * 2


async def test_an_untrusted_certificate_stops_unless_verification_is_off(
    settings: Settings, engine: Engine, starttls_server: MailCatcher
) -> None:
    untrusted = configured(settings, starttls_server)  # the system CAs do not know ours
    with pytest.raises(CampaignStopped, match=r"certificate .* could not be verified"):
        await campaign(untrusted, engine, "a:untrusted")
    assert not starttls_server.logins  # no password went to an unverified server
    unverified = configured(settings, starttls_server, smtp_tls_verify=False)
    request = announcement("a:untrusted")
    result = await deliver(request, unverified, engine=engine)
    assert result.sent == 6


async def test_the_password_never_prints(
    settings: Settings,
    engine: Engine,
    starttls_server: MailCatcher,
    ca_file: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WSIS_SMTP_PASSWORD", PASSWORD)
    from_env = Settings()
    assert from_env.smtp_password is not None
    assert from_env.smtp_password.get_secret_value() == PASSWORD
    for text in (repr(from_env), str(from_env), from_env.model_dump_json()):
        assert PASSWORD not in text and "**********" in text
    caplog.set_level(logging.DEBUG)
    wrong = configured(settings, starttls_server, smtp_ca_file=ca_file)
    wrong = wrong.model_copy(update={"smtp_password": SecretStr(PASSWORD + "-old")})
    with pytest.raises(CampaignStopped, match="refused our credentials") as stopped:
        await campaign(wrong, engine, "a:secret")
    assert PASSWORD not in str(stopped.value) and PASSWORD not in repr(stopped.value)
    ours = [r for r in caplog.records if r.name != "mail.log"]  # not the server's own log
    assert PASSWORD not in "\n".join(caplog.handler.format(r) for r in ours)


async def test_a_sign_in_link_goes_over_the_same_tls_and_login(
    settings: Settings, starttls_server: MailCatcher, plain_server: MailCatcher, ca_file: Path
) -> None:
    """The sign-in link, sent at once outside the outbox, takes the outbox's connection:
    STARTTLS with the configured CA, then the login (a relay that requires both takes it);
    a server that offers no TLS never gets the password, and the link is not sent."""
    person = Recipient(participant_id=1, email="amina.diallo@example.org", name="Amina Diallo",
                       language="en")  # fmt: skip
    extra = {"link": "http://localhost:8000/signin/link/x", "code": "K7PX-3MQA", "minutes": 20}

    async def send(server: MailCatcher) -> bool:
        relay = configured(settings, server, smtp_ca_file=ca_file)
        return await send_now(MessageKind.SIGN_IN_LINK, person, relay, title="WSIS", extra=extra)

    assert await send(starttls_server)
    assert starttls_server.count == 1 and person.email in starttls_server.received[0].recipients
    assert starttls_server.logins and all(encrypted for _, encrypted in starttls_server.logins)
    assert not await send(plain_server)
    assert plain_server.count == 0 and not plain_server.logins
