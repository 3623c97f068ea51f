"""Figures inside translated sentences are written as the reader's language writes them
(Babel, ``core.i18n.number``): "6 000" words and "50 000 caractères" in French, "50.000
caracteres" in Spanish, never the English "6,000" inside a French sentence; and the figures
come from the rules themselves (the form's limit, the link's lifetime), not from the text."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from intake.fields import TEXT_LIMIT
from tests.conftest import Portal
from tests.portal_flow import add_window, signed_in, token_of

NNBSP = "\u202f"  # French groups thousands with a narrow no-break space (CLDR)


async def test_a_french_page_groups_thousands_the_french_way(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    now = datetime.now(UTC)
    rules = {"categories": ["C1"], "category_names": {"C1": "C1"}, "description_words": [150, 200]}
    add_window(engine, "wsis-2030-prizes", "project-submissions", rules, now - timedelta(days=1),
               now + timedelta(days=1))  # fmt: skip
    add_window(engine, "wsis-2030-ocp", "ocp-submissions", {}, now - timedelta(days=1),
               now + timedelta(days=1))  # fmt: skip
    async with signed_in(portal.url, mail, participants[0]["email"], language="fr") as browser:
        page = await browser.get("/projects/wsis-2030-prizes/new")
        form = {"category": "C1", "title": "Villages connectés", "organization": "Org",
                "stakeholder_type": "Civil Society", "country": "SN",
                "csrf": token_of(page.text)}  # fmt: skip
        refused = await browser.post(
            "/projects/wsis-2030-prizes/new", data={**form, "description": "mot " * 6000}
        )
        text = html.unescape(refused.text)
        assert refused.status_code == 400 and refused.headers["content-language"] == "fr"
        assert (
            "Nombre de mots de la description" in text
            and f"6{NNBSP}000" in text
            and "6,000" not in text
        )

        page = await browser.get("/ocp/wsis-2030-ocp")
        refused = await browser.post(
            "/ocp/wsis-2030-ocp",
            data={"full_name": "Amina Diallo", "organization": "Ministère", "country": "SN",
                  "stakeholder_type": "Government", "proposal": "",
                  "csrf": token_of(page.text)},
        )  # fmt: skip
        text = html.unescape(refused.text)
        assert refused.status_code == 400
        assert f"50{NNBSP}000 caractères" in text and "50,000" not in text
        assert TEXT_LIMIT == 50_000  # the figure on the page is the rule's own

    # Spanish groups with a full stop (CLDR): the catalog once said "50 000" to everyone.
    async with signed_in(portal.url, mail, participants[6]["email"], language="es") as browser:
        page = await browser.get("/ocp/wsis-2030-ocp")
        refused = await browser.post(
            "/ocp/wsis-2030-ocp",
            data={"full_name": "Gustavo Pérez", "organization": "Universidad", "country": "CL",
                  "stakeholder_type": "Academia", "proposal": "", "csrf": token_of(page.text)},
        )  # fmt: skip
        text = html.unescape(refused.text)
        assert refused.headers["content-language"] == "es"
        assert "Redacte su propuesta (50.000 caracteres como máximo)." in text
