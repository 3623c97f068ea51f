"""*My submissions* in the reader's language: each item in full, where it stands as a code
rendered in French (no English reason, no internal process id), and Winner or Champion only
once the WSIS Prize Ceremony has announced them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from models.tables import Campaign, Participant, Project
from tests.conftest import Portal
from tests.portal_flow import add_window, signed_in

_p = Project.__table__  # type: ignore[attr-defined]
_people = Participant.__table__  # type: ignore[attr-defined]
CONTEST = "wsis-2030-prizes"


def add_project(engine: Engine, owner: int, title: str, **values: object) -> None:
    row = {
        "process_id": CONTEST, "category": "C4", "title": title, "title_key": title.lower(),
        "description": f"{title}: a community network in the valley.", "owner_id": owner,
        "organization": "Ministère des TIC", "stakeholder_type": "Government",
        "country": "Senegal", "submitted_at": datetime.now(UTC), **values,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(_p.insert().values(**row))


async def test_my_submissions_in_french_with_no_english_and_honours_once_announced(
    portal: Portal, mail: MailCatcher, engine: Engine, participants: list[dict[str, str]]
) -> None:
    person = participants[0]  # a French speaker
    now = datetime.now(UTC)
    add_window(engine, CONTEST, "project-submissions", {}, now - timedelta(days=9), now)
    with engine.connect() as conn:
        owner = conn.execute(
            sa.select(_people.c.id).where(_people.c.email == person["email"])
        ).scalar_one()
    add_project(
        engine, owner, "Old Mesh", status="ineligible",
        reason="won in an earlier cycle (wsis-2016-prizes)",
    )  # fmt: skip
    add_project(engine, owner, "Valley Mesh", status="nominated", shortlisted=True, winner=True)

    async with signed_in(portal.url, mail, person["email"], language="fr") as browser:
        page = (await browser.get("/my")).text
        assert "Non nominé\u00a0: le projet a été primé lors d'un cycle précédent." in page
        assert "Valley Mesh: a community network in the valley." in page  # in full
        for leak in ("won in an earlier cycle", "wsis-2016-prizes", CONTEST, "Lauréat"):
            assert leak not in page, leak

        with engine.begin() as conn:
            conn.execute(
                sa.insert(Campaign).values(
                    key=f"{CONTEST}:winners", process_id=CONTEST, kind="prize_winners",
                    request_json="{}", created_at=now, completed_at=now,
                )
            )  # fmt: skip
        page = (await browser.get("/my")).text
        assert "Lauréat" in page
