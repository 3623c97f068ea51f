"""A participant whose announcements were suspended by bounces sees why after signing in,
and re-enables them: real portal (uvicorn), real HTTP, the sign-in link by real SMTP."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.settings import Settings
from devstack.catcher import MailCatcher
from mail.audience import audience_select
from mail.inbound.classify import Bounce
from mail.inbound.standing import record_bounce, standing_of
from models.tables import BounceKind, InboundMessage, Participant
from models.wire import Audience, CampaignRequest, MessageKind

from .conftest import Portal
from .portal_flow import signed_in, token_of
from .test_i18n_portal import written_in

_p = Participant.__table__  # type: ignore[attr-defined]
_in = InboundMessage.__table__  # type: ignore[attr-defined]


async def test_a_suspended_participant_sees_why_and_re_enables(
    portal: Portal,
    engine: Engine,
    mail: MailCatcher,
    settings: Settings,
    participants: list[dict[str, str]],
) -> None:
    address = participants[4]["email"]
    with engine.begin() as conn:
        pid = conn.execute(sa.select(_p.c.id).where(_p.c.email == address)).scalar_one()
        inbound = conn.execute(
            _in.insert().values(
                key="k",
                mail_from="",
                rcpt_json="[]",
                raw=b"x",
                state="done",
                received_at=datetime.now(UTC),
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    bounce = Bounce(BounceKind.MAILBOX, "5.1.1")
    assert record_bounce(engine, settings, inbound, pid, "c:1", bounce)
    request = CampaignRequest(
        key="x", process_id="p", kind=MessageKind.OCP_OPENING, audience=Audience.EVERYONE,
        title="WSIS Forum 2027", timezone="Europe/Zurich",
    )  # fmt: skip
    with engine.connect() as conn:
        audience = {r[0] for r in conn.execute(audience_select(request, settings))}
    assert pid not in audience and len(audience) == len(participants) - 1

    async with signed_in(portal.url, mail, address) as browser:  # sign-in mail still arrives
        me = await browser.get("/me")
        assert "announcements to it are suspended" in me.text
        page = await browser.get("/mail-status")
        assert "the mailbox does not exist (status 5.1.1)" in page.text
        # Both pages in the participant's language, with nothing left in English.
        await browser.get("/language/fr", params={"next": "/me"})
        for path, french in [
            ("/me", "l'envoi des annonces du SMSI à cette adresse est donc suspendu"),
            ("/mail-status", "la boîte aux lettres n'existe pas (code 5.1.1)"),
        ]:
            shown = await browser.get(path)
            assert written_in(shown) == ("fr", "fr", "ltr") and '<p role="alert">' in shown.text
            assert french in html.unescape(shown.text)
        await browser.get("/language/en", params={"next": "/me"})
        refused = await browser.post("/mail-status", data={"csrf": "forged"})
        assert refused.status_code == 403
        done = await browser.post("/mail-status", data={"csrf": token_of(page.text)})
        assert done.status_code == 303
        after = await browser.get(done.headers["location"])
        assert "Announcements are sent to your address again." in after.text
        assert "announcements to it are suspended" not in (await browser.get("/me")).text
    standing = standing_of(engine, pid)
    assert standing is not None and standing.suspended_at is None
    with engine.connect() as conn:
        assert pid in {r[0] for r in conn.execute(audience_select(request, settings))}
