"""Countries as ISO 3166 codes: recognised in any of the seven languages (forms, CSV import),
named from CLDR in the reader's language, and existing rows migrated (names in any language
to codes; the rest kept and listed for the Secretariat)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from core import countries
from core.db import MIGRATIONS_DIR, get_engine
from devstack.catcher import MailCatcher
from intake.participants import import_participants
from models.tables import Participant, Project
from portal.pages import LANGUAGE_COOKIE
from reports.countries import unmapped
from tests.conftest import Portal
from tests.portal_flow import Contest, page_token, signed_in

_people = Participant.__table__  # type: ignore[attr-defined]
_projects = Project.__table__  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "code"),
    [("Lebanon", "LB"), ("Liban", "LB"), ("Líbano", "LB"), ("Ливан", "LB"), ("黎巴嫩", "LB"),
     ("لبنان", "LB"), ("china", "CN"), ("中国", "CN"), ("Türkiye", "TR"), ("Turkey", "TR"),
     ("côte d'ivoire", "CI"), ("ch", "CH"), ("Atlantis", None)],
)  # fmt: skip
def test_a_country_is_recognised_in_any_of_the_seven_languages(text: str, code: str | None) -> None:
    assert countries.code_for(text) == code


def test_existing_rows_are_migrated_to_codes_and_the_rest_listed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    engine = get_engine(url)
    config.attributes["engine"] = engine
    command.upgrade(config, "0009_privacy")
    with engine.begin() as conn:
        for i, country in enumerate(["Lebanon", "لبنان", "Atlantis", "中国", ""]):
            conn.execute(  # the columns of that revision (0011 renames unsubscribe_token)
                sa.text(
                    "INSERT INTO participant (email, name, organization, country, stakeholder_type,"
                    " language, unsubscribed, unsubscribe_token, pending, created_at, updated_at)"
                    " VALUES (:e, :n, '', :c, 'Government', 'en', 0, :t, 0, '2026-01-01',"
                    " '2026-01-01')"
                ),
                {"e": f"p{i}@example.org", "n": f"P {i}", "c": country, "t": f"t{i}"},
            )
    command.upgrade(config, "head")
    with engine.connect() as conn:
        found = [c for (c,) in conn.execute(sa.select(_people.c.country).order_by(_people.c.id))]
    assert found == ["LB", "LB", "Atlantis", "CN", ""]
    assert unmapped(engine) == [("participant", "Atlantis", 1)]


def test_a_csv_import_stores_codes(tmp_path: Path, engine: Engine) -> None:
    path = tmp_path / "people.csv"
    path.write_text(
        "name,email,country\nChen Wei,chen@example.org,中国\nAna Lima,ana@example.org,Brasil\n",
        encoding="utf-8",
    )
    assert import_participants(path, engine).created == 2
    with engine.connect() as conn:
        assert {c for (c,) in conn.execute(sa.select(_people.c.country))} == {"CN", "BR"}


async def test_the_portal_offers_and_names_countries_in_the_readers_language(
    portal: Portal, mail: MailCatcher, engine: Engine, contest: Contest
) -> None:
    async with httpx.AsyncClient(base_url=portal.url, cookies={LANGUAGE_COOKIE: "ar"}) as browser:
        page = await browser.get("/signup")
        assert '<option value="LB">لبنان</option>' in page.text
        answer = await browser.post(
            "/signup",
            data={"name": "Farah Haddad", "country": "LB", "email": "farah@example.org",
                  "consent": "yes", "csrf": await page_token(browser, "/signup")},
        )  # fmt: skip
        assert answer.status_code == 303 and answer.headers["location"] == "/signin/sent"
    with engine.begin() as conn:
        stored = conn.execute(
            sa.select(_people.c.country).where(_people.c.email == "farah@example.org")
        ).scalar_one()
        conn.execute(_projects.update().values(country="LB"))
    assert stored == "LB"
    async with signed_in(portal.url, mail, "participant20@example.org", language="ar") as voter:
        ballot = (await voter.get(f"/ballot/{contest.process_id}")).text
    assert "لبنان" in ballot and ">LB<" not in ballot
