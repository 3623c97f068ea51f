"""The secretariat's vote review in the console, over the same services as the CLI: counts
per day and category, the cluster, a void with its internal reason and the valid votes' hash
before and after; an expert never reaches it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from devstack.catcher import MailCatcher
from intake.casting import Evidence, cast_ballot
from models.tables import Participant
from services import audit, staff, votes
from tests.conftest import Portal
from tests.portal_flow import Contest, token_of
from tests.staff_flow import staff_sign_in


async def test_the_secretariat_reviews_and_voids_votes(
    portal: Portal, engine: Engine, mail: MailCatcher, contest: Contest,
    participants: list[dict[str, str]],
) -> None:  # fmt: skip
    start = datetime.now(UTC) - timedelta(minutes=20)
    with engine.connect() as conn:
        ids = conn.execute(sa.select(Participant.id).order_by(Participant.id)).scalars().all()  # type: ignore[call-overload]
    for i, pid in enumerate(ids[:15]):
        choices = {c: projects[0] for c, projects in contest.projects.items()}
        network = "203.0.113.0/24" if i < 11 else f"198.51.{i}.0/24"
        cast_ballot(contest.process_id, pid, choices, Evidence(network, "x"), engine,
                    now=start + timedelta(seconds=30 * i))  # fmt: skip
    staff.add(engine, "sec@itu.int", "secretariat", actor="cli:test")
    staff.add(engine, "expert@itu.int", "expert", actor="cli:test")
    before = votes.valid_hash(engine, contest.process_id)
    async with (
        httpx.AsyncClient(base_url=portal.url) as sec,
        httpx.AsyncClient(base_url=portal.url) as expert,
    ):
        await staff_sign_in(expert, mail, engine, "expert@itu.int")
        assert (await expert.get("/staff/votes")).status_code == 403
        await staff_sign_in(sec, mail, engine, "sec@itu.int", step=1)
        page = await sec.get("/staff/votes")
        assert page.status_code == 200 and "Votes: 45 (0 voided)" in page.text
        assert before in page.text and page.text.count("203.0.113.0/24</td>") == 3
        refused = await sec.post(
            "/staff/votes/void",
            data={"contest": contest.process_id, "network": "203.0.113.0/24", "reason": " ",
                  "csrf": token_of(page.text)},
        )  # fmt: skip
        assert refused.status_code == 400 and "give a reason" in refused.text
        done = await sec.post(
            "/staff/votes/void",
            data={"contest": contest.process_id, "network": "203.0.113.0/24",
                  "reason": "burst of new accounts", "csrf": token_of(page.text)},
        )  # fmt: skip
        after = votes.valid_hash(engine, contest.process_id)
        assert done.status_code == 200 and "33 vote(s) voided" in done.text
        assert after != before and f"{before} before, {after} after" in done.text
        assert "Votes: 12 (33 voided)" in done.text
        # The pictures: SVG without script, the same figures as the page's tables.
        assert 'aria-describedby="per-category"' in done.text and 'id="per-category"' in done.text
        picture = await sec.get(f"/staff/votes/per-category.svg?contest={contest.process_id}")
        assert picture.headers["content-type"] == "image/svg+xml"
        assert "<script" not in picture.text and ">4<" in picture.text  # 12 votes, 3 categories
        assert (await expert.get("/staff/votes/per-day.svg")).status_code == 403
    entry = next(e for e in audit.entries(engine) if e.action == "votes.void")
    assert entry.reason == "burst of new accounts" and entry.actor.startswith("staff:")
